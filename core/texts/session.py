"""Texts of sign-in sessions, deep links and the server frame."""

EN: dict[str, str] = {
    "session.changed": "An admin changed your account (role, password or access); sign in again.",
    "session.not_allowed": "The page **{page}** needs the role {need} or higher; you are signed in as {name} ({role}).",
    "session.not_allowed_help": "Ask an admin for a role that may use it, or choose a page from the menu.",
    "session.user_password_short": "a password needs at least {n} characters",
    "session.user_password_long": "a password may have at most {n} characters",
    "session.user_password_name": "a trainer's or admin's password may not contain the user name",
    "session.user_password_common": "this password is one of the most common ones; choose another",
    "session.user_password_spaces": "a password may not begin or end with spaces",
    "session.user_role_unknown": "role {role} is unknown; valid roles: {valid}",
    "session.user_name_invalid": "user name {name} is not valid: 1-64 letters, digits, '.', '_', '@' or '-'",
    "session.user_email_invalid": "e-mail address {email} is not valid",
    "session.user_needs_login": "an account needs a password, or an e-mail address for single sign-on",
    "session.user_exists": "user {name} exists already",
    "session.user_email_taken": "e-mail address {email} belongs to another user",
    "session.user_unknown": "user {name} does not exist",
    "session.user_last_admin": "{name} is the last active admin; make another admin first",
    "session.user_no_account": "there is no boltscope account for {name}; an admin can add one with that e-mail",
    "session.user_disabled": "the account {name} is disabled",
    "session.disk_low": "The server's disk is nearly full ({free_mb} MB free). Sign-in still works, but imports are "
    "stopped: an admin should free space on the workspace's disk.",
}

KO: dict[str, str] = {
    "session.changed": "관리자가 계정(역할, 비밀번호 또는 접근 권한)을 변경했습니다. 다시 로그인하세요.",
    "session.not_allowed": "**{page}** 페이지는 {need} 이상의 역할이 필요합니다. 현재 {name}({role})(으)로 "
    "로그인되어 있습니다.",
    "session.not_allowed_help": "이 페이지를 쓸 수 있는 역할을 관리자에게 요청하거나, 메뉴에서 페이지를 고르세요.",
    "session.user_password_short": "비밀번호는 {n}자 이상이어야 합니다",
    "session.user_password_long": "비밀번호는 {n}자를 넘을 수 없습니다",
    "session.user_password_name": "학습 담당자나 관리자의 비밀번호에는 사용자 이름이 들어갈 수 없습니다",
    "session.user_password_common": "가장 흔한 비밀번호 중 하나입니다. 다른 비밀번호를 고르세요",
    "session.user_password_spaces": "비밀번호는 공백으로 시작하거나 끝날 수 없습니다",
    "session.user_role_unknown": "알 수 없는 역할입니다: {role}. 가능한 역할: {valid}",
    "session.user_name_invalid": "사용자 이름 {name}은(는) 쓸 수 없습니다: 문자, 숫자, '.', '_', '@', '-'로 1~64자",
    "session.user_email_invalid": "이메일 주소 {email}이(가) 올바르지 않습니다",
    "session.user_needs_login": "계정에는 비밀번호나 통합 로그인용 이메일 주소가 필요합니다",
    "session.user_exists": "사용자 {name}이(가) 이미 있습니다",
    "session.user_email_taken": "이메일 주소 {email}은(는) 다른 사용자가 쓰고 있습니다",
    "session.user_unknown": "사용자 {name}이(가) 없습니다",
    "session.user_last_admin": "{name}은(는) 마지막 활성 관리자입니다. 먼저 다른 관리자를 만드세요",
    "session.user_no_account": "{name}의 boltscope 계정이 없습니다. 관리자가 그 이메일로 계정을 만들 수 있습니다",
    "session.user_disabled": "{name} 계정은 비활성화되었습니다",
    "session.disk_low": "서버 디스크가 거의 가득 찼습니다(남은 공간 {free_mb} MB). 로그인은 되지만 가져오기는 "
    "멈췄습니다. 관리자가 작업 공간 디스크의 공간을 확보해야 합니다.",
}

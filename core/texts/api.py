"""Texts of the HTTP API and its tokens (issue 16: inspections). The API answers in English (`message`); the keys
let a client or the dashboard show the same refusal in Korean."""

EN: dict[str, str] = {
    "api.token_name_invalid": "token name '{name}' is not valid: 1-64 letters, digits, '.', '_' or '-', starting "
    "with a letter or digit",
    "api.token_role_unknown": "role {role} is unknown; valid roles: {valid}",
    "api.token_exists": "token {name} exists already; revoke it first or choose another name",
    "api.token_unknown": "there is no live token named {name}",
    "api.token_refused": "unknown or revoked API token",
    "api.token_missing": "this call needs an API token: send the header 'Authorization: Bearer <token>'",
    "api.too_large": "the upload is larger than the limit of {limit_mb} MB",
    "api.bad_request": "the request is not valid: {reason}",
    "api.not_found": "there is no such endpoint: {path}",
    "api.method": "method {method} is not allowed for {path}",
    "api.http": "the request was refused (HTTP {status})",
    "api.internal": "an unexpected error on the server; its log has the details under reference {ref}",
    "api.report_later": "printable reports are not available from this server yet",
    "api.error": "the request was refused",
}

KO: dict[str, str] = {
    "api.token_name_invalid": "토큰 이름 '{name}'이(가) 올바르지 않습니다: 글자, 숫자, '.', '_', '-' 1-64자이며 글자나 "
    "숫자로 시작해야 합니다",
    "api.token_role_unknown": "알 수 없는 역할 {role}입니다. 사용할 수 있는 역할: {valid}",
    "api.token_exists": "토큰 {name}이(가) 이미 있습니다. 먼저 폐기하거나 다른 이름을 고르세요",
    "api.token_unknown": "{name}(이)라는 유효한 토큰이 없습니다",
    "api.token_refused": "알 수 없거나 폐기된 API 토큰입니다",
    "api.token_missing": "이 호출에는 API 토큰이 필요합니다: 'Authorization: Bearer <token>' 헤더를 보내세요",
    "api.too_large": "업로드가 한도 {limit_mb} MB보다 큽니다",
    "api.bad_request": "요청이 올바르지 않습니다: {reason}",
    "api.not_found": "그런 엔드포인트가 없습니다: {path}",
    "api.method": "{path}에는 {method} 메서드를 쓸 수 없습니다",
    "api.http": "요청이 거부되었습니다 (HTTP {status})",
    "api.internal": "서버에서 예기치 않은 오류가 났습니다. 서버 로그의 참조 번호 {ref}에 자세한 내용이 있습니다",
    "api.report_later": "이 서버에서는 아직 인쇄용 보고서를 받을 수 없습니다",
    "api.error": "요청이 거부되었습니다",
}

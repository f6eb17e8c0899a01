"""Texts of inspect_judge (issue 16: inspections): judging the positions of a whole photo."""

EN: dict[str, str] = {
    "inspect.judge.error.method": "CAM method {method} cannot judge a whole photo in one batch; valid: {valid}",
}

KO: dict[str, str] = {
    "inspect.judge.error.method": (
        "CAM 방법 {method}(으)로는 사진 전체를 한 번에 판정할 수 없습니다. 가능한 방법: {valid}"
    ),
}

"""Texts of inspect_record (issue 16: inspections): stations and the inspection record."""

EN: dict[str, str] = {
    "station.error_name": "The station name '{name}' is not valid: use 1-64 letters, digits, '.', '_' or '-'.",
    "station.error_margin": "The margin {margin} must be a number from 0 to 1.",
    "station.error_run": "Run {run} cannot decide for a station: give the id of a finished run.",
    "station.error_no_positions": "A station needs at least one position.",
    "station.error_too_many": "{n} positions: a station may have at most {limit}.",
    "station.error_position_name": "The position name '{name}' is not valid: use 1-32 letters, digits, '.', '_' "
    "or '-'.",
    "station.error_position_twice": "The position {name} is named twice.",
    "station.error_box": "Position {name}: the box must be four whole numbers [x0, y0, x1, y1].",
    "station.error_box_order": "Position {name}: the box {box} needs x0 < x1 and y0 < y1.",
    "station.error_box_outside": "Position {name}: the box {box} lies outside the {width}×{height} reference photo.",
    "station.error_json": "The positions are not valid JSON: {detail}",
    "station.error_json_shape": 'The positions must be a list of {{"name": "P1", "box": [x0, y0, x1, y1]}}.',
    "station.error_unknown": "The station {name} does not exist.",
    "station.error_exists": "The station {name} exists already; change it to make a new version.",
    "station.error_changes": "A station change sets some of: {valid}.",
    "station.error_unchanged": "The station {name} is unchanged: nothing to save.",
    "station.error_changed_meanwhile": "The station {name} was changed by someone else meanwhile; open it again.",
    "inspect.record.error_asset": "The asset '{asset}' is not valid: at most {limit} characters, no control "
    "characters.",
    "inspect.record.error_positions": "The result's positions are not those of the station {station}.",
    "inspect.record.error_unfit": "Position {name} has no label but is not marked unfit.",
    "inspect.record.error_photo": "The photo given is not the photo that was inspected.",
    "inspect.record.error_note": "A note may have at most {limit} characters.",
    "inspect.record.error_no_position": "Inspection {id} has no position {name}.",
    "inspect.record.error_same": "Position {name} is {label} already.",
    "inspect.record.error_unknown": "Inspection {id} does not exist.",
    "inspect.record.error_since": "'{since}' is not a date or time; write it as 2026-12-03 or 2026-12-03T08:00.",
}

KO: dict[str, str] = {
    "station.error_name": "스테이션 이름 '{name}'이(가) 올바르지 않습니다. 문자, 숫자, '.', '_', '-'로 "
    "1-64자를 쓰세요.",
    "station.error_margin": "여백 {margin}은(는) 0에서 1 사이의 수여야 합니다.",
    "station.error_run": "실행 {run}은(는) 스테이션의 판정 모델이 될 수 없습니다. 완료된 실행의 번호를 주세요.",
    "station.error_no_positions": "스테이션에는 위치가 하나 이상 있어야 합니다.",
    "station.error_too_many": "위치 {n}개: 스테이션의 위치는 최대 {limit}개입니다.",
    "station.error_position_name": "위치 이름 '{name}'이(가) 올바르지 않습니다. 문자, 숫자, '.', '_', '-'로 "
    "1-32자를 쓰세요.",
    "station.error_position_twice": "위치 {name}이(가) 두 번 나옵니다.",
    "station.error_box": "위치 {name}: 상자는 정수 네 개 [x0, y0, x1, y1]여야 합니다.",
    "station.error_box_order": "위치 {name}: 상자 {box}는 x0 < x1, y0 < y1이어야 합니다.",
    "station.error_box_outside": "위치 {name}: 상자 {box}가 {width}×{height} 기준 사진 밖에 있습니다.",
    "station.error_json": "위치 목록이 올바른 JSON이 아닙니다: {detail}",
    "station.error_json_shape": '위치 목록은 {{"name": "P1", "box": [x0, y0, x1, y1]}}의 목록이어야 합니다.',
    "station.error_unknown": "스테이션 {name}이(가) 없습니다.",
    "station.error_exists": "스테이션 {name}이(가) 이미 있습니다. 새 버전을 만들려면 수정하세요.",
    "station.error_changes": "스테이션 변경에는 다음 중 일부를 지정합니다: {valid}.",
    "station.error_unchanged": "스테이션 {name}에 바뀐 것이 없어 저장할 것이 없습니다.",
    "station.error_changed_meanwhile": "그사이 다른 사람이 스테이션 {name}을(를) 바꿨습니다. 다시 여세요.",
    "inspect.record.error_asset": "자산 '{asset}'이(가) 올바르지 않습니다. 최대 {limit}자, 제어 문자는 쓸 수 없습니다.",
    "inspect.record.error_positions": "결과의 위치가 스테이션 {station}의 위치와 다릅니다.",
    "inspect.record.error_unfit": "위치 {name}에 라벨이 없는데 판정 불가로 표시되지 않았습니다.",
    "inspect.record.error_photo": "주어진 사진이 검사한 사진과 다릅니다.",
    "inspect.record.error_note": "메모는 최대 {limit}자입니다.",
    "inspect.record.error_no_position": "검사 {id}에 위치 {name}이(가) 없습니다.",
    "inspect.record.error_same": "위치 {name}은(는) 이미 {label}입니다.",
    "inspect.record.error_unknown": "검사 {id}이(가) 없습니다.",
    "inspect.record.error_since": "'{since}'은(는) 날짜나 시각이 아닙니다. 2026-12-03 또는 "
    "2026-12-03T08:00처럼 쓰세요.",
}

"""Texts of issue 17 (trust at the verdict): the unfamiliar-photo gate (a photo unlike anything the model was
trained on is held back, never passed)."""

EN: dict[str, str] = {
    "familiarity.position": "check the photo: unlike the training photos (percentile {percentile})",
    "familiarity.verdict": "#{id} {name}: CHECK THE PHOTO, a position looks unlike anything the model was trained "
    "on. Look at it and label it; send its crops to Review to teach the model.",
    "familiarity.diagnose": "Check the photo: it is unlike anything the model was trained on (familiarity "
    "percentile {percentile} of the validation photos; the cut is {cut}). The verdict below is not a pass. Send "
    "the photo to Review so a person labels it.",
    "familiarity.metric": "Familiarity",
    "familiarity.metric.help": "How far this photo is from the nearest training photo, as a percentile of the "
    "validation photos' distances: 50 is typical; past {cut} the photo is unfamiliar and never passes.",
    "familiarity.unknown": "no index",
    "familiarity.error.no_photos": "run {run} has no training or no validation photos to measure familiarity against",
    "familiarity.error.cut": "the familiarity cut {value} must be a percentile from {low} to {high}",
}

KO: dict[str, str] = {
    "familiarity.position": "사진 확인: 학습 사진과 다름 (백분위 {percentile})",
    "familiarity.verdict": "#{id} {name}: 사진 확인 필요, 모델이 학습한 어떤 사진과도 닮지 않은 위치가 있습니다. "
    "직접 보고 라벨을 정하세요. 잘라낸 사진을 검토로 보내 모델을 가르칠 수 있습니다.",
    "familiarity.diagnose": "사진을 확인하세요: 모델이 학습한 어떤 사진과도 닮지 않았습니다 (검증 사진 대비 친숙도 "
    "백분위 {percentile}, 기준 {cut}). 아래 판정은 합격이 아닙니다. 사진을 검토로 보내 사람이 라벨을 정하게 하세요.",
    "familiarity.metric": "친숙도",
    "familiarity.metric.help": "가장 가까운 학습 사진과의 거리를 검증 사진들의 거리에 대한 백분위로 나타냅니다. 50이 "
    "보통이며, {cut}을(를) 넘으면 처음 보는 사진으로 보고 합격시키지 않습니다.",
    "familiarity.unknown": "색인 없음",
    "familiarity.error.no_photos": "학습 {run}에 친숙도를 잴 학습 사진 또는 검증 사진이 없습니다",
    "familiarity.error.cut": "친숙도 기준 {value}은(는) {low}에서 {high} 사이의 백분위여야 합니다",
}

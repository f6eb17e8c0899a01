"""Texts of issue 17 (trust at the verdict): temperature scaling, and the unfamiliar-photo gate (a photo unlike
anything the model was trained on is held back, never passed)."""

EN: dict[str, str] = {
    "familiarity.position": "check the photo: unlike the training photos (percentile {percentile})",
    "familiarity.verdict": "#{id} {name}: CHECK THE PHOTO, a position looks unlike anything the model was trained "
    "on. Look at it and label it; send its crops to Review to teach the model.",
    "familiarity.diagnose": "Check the photo: it is unlike anything the model was trained on (familiarity "
    "percentile {percentile} of the validation photos; the cut is {cut}). It is not passed: look at the bolt "
    "yourself, and save the photo with its right label (Wrong? below) so the model learns it.",
    "familiarity.metric": "Familiarity",
    "familiarity.metric.help": "How far this photo is from the nearest training photo, as a percentile of the "
    "validation photos' distances: 50 is typical; past {cut} the photo is unfamiliar and never passes.",
    "familiarity.unknown": "no index",
    "calibration.caption": "Temperature {t}, fitted on the validation photos when the run finished: expected "
    "calibration error {before} before, {after} after (the probabilities shown everywhere are the calibrated ones).",
    "calibration.before": "before temperature scaling",
    "calibration.after": "after temperature scaling",
    "familiarity.error.no_photos": "run {run} has no training or no validation photos to measure familiarity against",
    "familiarity.error.cut": "the familiarity cut {value} must be a percentile from {low} to {high}",
}

KO: dict[str, str] = {
    "familiarity.position": "사진 확인: 학습 사진과 다름 (백분위 {percentile})",
    "familiarity.verdict": "#{id} {name}: 사진 확인 필요, 모델이 학습한 어떤 사진과도 닮지 않은 위치가 있습니다. "
    "직접 보고 라벨을 정하세요. 잘라낸 사진을 검토로 보내 모델을 가르칠 수 있습니다.",
    "familiarity.diagnose": "사진을 확인하세요: 모델이 학습한 어떤 사진과도 닮지 않았습니다 (검증 사진 대비 친숙도 "
    "백분위 {percentile}, 기준 {cut}). 합격 처리하지 않습니다. 볼트를 직접 확인하고, 아래 '틀렸나요?'에서 올바른 "
    "라벨로 저장해 모델이 배우게 하세요.",
    "familiarity.metric": "친숙도",
    "familiarity.metric.help": "가장 가까운 학습 사진과의 거리를 검증 사진들의 거리에 대한 백분위로 나타냅니다. 50이 "
    "보통이며, {cut}을(를) 넘으면 처음 보는 사진으로 보고 합격시키지 않습니다.",
    "familiarity.unknown": "색인 없음",
    "calibration.caption": "온도 {t}: 학습이 끝날 때 검증 사진으로 맞췄습니다. 기대 보정 오차 적용 전 {before}, "
    "적용 후 {after} (어디서나 보이는 확률은 보정된 확률입니다).",
    "calibration.before": "온도 보정 전",
    "calibration.after": "온도 보정 후",
    "familiarity.error.no_photos": "학습 {run}에 친숙도를 잴 학습 사진 또는 검증 사진이 없습니다",
    "familiarity.error.cut": "친숙도 기준 {value}은(는) {low}에서 {high} 사이의 백분위여야 합니다",
}

"""Texts of issue 17 (trust at the verdict): temperature scaling, and the unfamiliar-photo gate (a photo unlike
anything the model was trained on is held back, never passed)."""

EN: dict[str, str] = {
    "familiarity.position": "check the photo: unlike the training photos (percentile {percentile})",
    "familiarity.verdict": "#{id} {name}: CHECK THE PHOTO, a position looks unlike anything the model was trained "
    "on. Look at it and label it; send its crops to Review to teach the model.",
    "familiarity.diagnose": "Check the photo: it is unlike anything the model was trained on (familiarity "
    "percentile {percentile} of the validation photos; the cut is {cut}). It is not passed: look at the bolt "
    "yourself, and save the photo with its right label (Wrong? below), or send it to Review for someone who knows, so "
    "the model learns it.",
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
    "review.reason.unfamiliar": "sent: unfamiliar photo",
    "review.why.unfamiliar": "**Why:** sent from Diagnose: unlike anything the model was trained on (familiarity "
    "percentile {pct}). It has no label yet: choose it with the label buttons.",
    "review.error.confirm_unlabelled": "Photo #{id} has no label to confirm: choose its label.",
    "review.keys.unlabelled": "{pairs} · S: skip",
    "review.error.request_reason": "A photo can be sent to Review only as an unfamiliar photo (not {reason}).",
    "diagnose.to_review": "Send to Review",
    "diagnose.to_review.help": "The photo joins the dataset without a label and waits in Review for a person to "
    "label it; the next model then learns it.",
    "diagnose.sent": "{name} is waiting in Review (photo #{id}).",
    "diagnose.error.familiar": "{name} is familiar to the model: save it with its label instead.",
    "admin.audit.action.review.request": "sent to Review",
    "admin.audit.detail.percentile": "familiarity percentile",
    "admin.audit.detail.run": "run",
}

KO: dict[str, str] = {
    "familiarity.position": "사진 확인: 학습 사진과 다름 (백분위 {percentile})",
    "familiarity.verdict": "#{id} {name}: 사진 확인 필요, 모델이 학습한 어떤 사진과도 닮지 않은 위치가 있습니다. "
    "직접 보고 라벨을 정하세요. 잘라낸 사진을 검토로 보내 모델을 가르칠 수 있습니다.",
    "familiarity.diagnose": "사진을 확인하세요: 모델이 학습한 어떤 사진과도 닮지 않았습니다 (검증 사진 대비 친숙도 "
    "백분위 {percentile}, 기준 {cut}). 합격 처리하지 않습니다. 볼트를 직접 확인하고, 아래 '틀렸나요?'에서 올바른 "
    "라벨로 저장하거나, 아는 사람이 라벨을 붙이도록 검토로 보내 모델이 배우게 하세요.",
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
    "review.reason.unfamiliar": "보냄: 처음 보는 사진",
    "review.why.unfamiliar": "**이유:** 진단에서 보냄: 모델이 학습한 어떤 사진과도 다릅니다 (친숙도 백분위 {pct}). "
    "아직 라벨이 없습니다: 라벨 버튼으로 고르세요.",
    "review.error.confirm_unlabelled": "사진 #{id}에는 확인할 라벨이 없습니다: 라벨을 고르세요.",
    "review.keys.unlabelled": "{pairs} · S: 건너뛰기",
    "review.error.request_reason": "사진은 처음 보는 사진으로만 검토에 보낼 수 있습니다 ({reason} 아님).",
    "diagnose.to_review": "검토로 보내기",
    "diagnose.to_review.help": "사진이 라벨 없이 데이터셋에 들어가 검토에서 사람의 라벨을 기다립니다. 다음 모델이 "
    "이 사진을 배웁니다.",
    "diagnose.sent": "{name}이(가) 검토에서 기다립니다 (사진 #{id}).",
    "diagnose.error.familiar": "{name}은(는) 모델에 친숙한 사진입니다: 대신 라벨과 함께 저장하세요.",
    "admin.audit.action.review.request": "검토로 보냄",
    "admin.audit.detail.percentile": "친숙도 백분위",
    "admin.audit.detail.run": "학습",
}

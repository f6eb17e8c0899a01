"""Texts of issue 17, part 6: distilling the production model into a smaller, faster student."""

EN: dict[str, str] = {
    "train.kind.distill": "distillation",
    "train.phase.teacher": "The teacher answers for each photo {step}/{steps}",
    "distill.header": "Distil the production model into a faster student",
    "distill.help": "The production model (the teacher) teaches a smaller student: the student learns the "
    "teacher's softened probabilities on the training photos as well as their labels. The student is an ordinary "
    "run: evaluate it, compare it photo by photo, promote it and export it. Its temperature and operating point "
    "are fitted again on its own validation photos.",
    "distill.no_teacher": "There is no production model to distil yet: promote a model on the Evaluate page first.",
    "distill.teacher": "Teacher: run #{id} · {arch} at {size} px · test macro-F1 {f1} · {ms} ms per photo on the CPU",
    "distill.student": "Student backbone",
    "distill.size": "Student input size (px)",
    "distill.cost": "The student needs {gflops} GFLOPs per photo: {share}× the teacher's {teacher_gflops}.",
    "distill.start": "Distil",
    "distill.queued": "Job #{id} queued: run #{teacher} teaches a student.",
    "distill.taught_by": "Distilled from run #{run}",
    "distill.error.no_teacher": "There is no production model to distil: promote one on the Evaluate page, or name "
    "a run with --teacher.",
    "distill.error.unfinished": "Run #{run} has not finished; it has no model to teach with.",
    "distill.error.not_smaller": "The student ({arch} at {size} px) would be no smaller than its teacher (run #{run} "
    "at {teacher_size} px): choose a smaller input size or backbone.",
    "distill.error.classes": "The teacher (run #{run}) knows {teacher}, but the dataset now has {now}: train and "
    "promote a model on the current labels first.",
    "distill.error.teacher_kind": "Only a distillation has a teacher run.",
    "distill.error.teacher_id": "A distillation needs its teacher's run number (got {value}).",
    "distill.error.nproc": "A distillation trains in one process.",
    "distill.error.stopped": "Stopped while the teacher answered for photo {step}.",
    "admin.audit.detail.teacher_run": "teacher run",
}

KO: dict[str, str] = {
    "train.kind.distill": "증류",
    "train.phase.teacher": "교사 모델이 사진마다 답하는 중 {step}/{steps}",
    "distill.header": "운영 모델을 더 빠른 학생 모델로 증류",
    "distill.help": "운영 모델(교사)이 더 작은 학생 모델을 가르칩니다. 학생은 학습 사진의 라벨과 함께 교사의 완화된 "
    "확률을 배웁니다. 학생은 보통의 학습과 같습니다: 평가하고, 사진별로 비교하고, 승격하고, 내보낼 수 있습니다. "
    "온도와 운영점은 학생 자신의 검증 사진으로 다시 맞춥니다.",
    "distill.no_teacher": "아직 증류할 운영 모델이 없습니다. 먼저 평가 페이지에서 모델을 승격하세요.",
    "distill.teacher": "교사: 학습 #{id} · {arch}, {size} px · 테스트 macro-F1 {f1} · CPU에서 사진당 {ms} ms",
    "distill.student": "학생 백본",
    "distill.size": "학생 입력 크기 (px)",
    "distill.cost": "학생은 사진당 {gflops} GFLOPs가 필요합니다: 교사({teacher_gflops})의 {share}배.",
    "distill.start": "증류 시작",
    "distill.queued": "작업 #{id}이(가) 대기열에 들어갔습니다: 학습 #{teacher}이(가) 학생을 가르칩니다.",
    "distill.taught_by": "학습 #{run}에서 증류됨",
    "distill.error.no_teacher": "증류할 운영 모델이 없습니다. 평가 페이지에서 모델을 승격하거나 --teacher로 학습을 "
    "지정하세요.",
    "distill.error.unfinished": "학습 #{run}이(가) 끝나지 않아 가르칠 모델이 없습니다.",
    "distill.error.not_smaller": "학생({arch}, {size} px)이 교사(학습 #{run}, {teacher_size} px)보다 작지 않습니다. "
    "더 작은 입력 크기나 백본을 고르세요.",
    "distill.error.classes": "교사(학습 #{run})는 {teacher}을(를) 알지만 지금 데이터셋에는 {now}이(가) 있습니다. "
    "먼저 현재 라벨로 모델을 학습하고 승격하세요.",
    "distill.error.teacher_kind": "교사 학습은 증류에만 있습니다.",
    "distill.error.teacher_id": "증류에는 교사 학습 번호가 필요합니다 ({value}을(를) 받음).",
    "distill.error.nproc": "증류는 한 프로세스에서 학습합니다.",
    "distill.error.stopped": "교사가 사진 {step}에 답하는 중에 멈췄습니다.",
    "admin.audit.detail.teacher_run": "교사 학습",
}

"""Texts of issue 17 (trust at the verdict): the 95% intervals of defect recall and false-alarm rate."""

EN: dict[str, str] = {
    "intervals.title": "How sure these rates are",
    "intervals.col.measure": "Measure",
    "intervals.col.split": "Split",
    "intervals.col.value": "Rate (95% interval)",
    "intervals.col.counts": "Photos",
    "intervals.recall": "Defect recall",
    "intervals.false_alarm": "False-alarm rate",
    "intervals.counts.recall": "{k} of {n} defect photos caught",
    "intervals.counts.false_alarm": "{k} of {n} normal photos flagged",
    "intervals.help": "The range is a 95% interval ({method}): the true rate lies in it 95 times out of 100. "
    "The fewer photos a rate rests on, the wider it is.",
    "intervals.method.clopper-pearson": "Clopper–Pearson, exact",
    "intervals.method.wilson": "Wilson score",
    "intervals.too_few": "Too few defect photos to show a defect recall of {target}. {splits}. Even if every one "
    "of them were caught, the 95% interval's lower bound would stay below {target}. Showing {target} needs at "
    "least {needed} defect photos in a split, all caught.",
    "intervals.too_few.split": "{split}: {n} defect photos, a lower bound of {best} at best",
    "intervals.too_few.none": "{split}: no defect photos",
    "intervals.never": "No number of photos can show a defect recall of exactly 1: however many are caught, the "
    "95% interval's lower bound stays below 1. Choose a target below 1 to see how many defect photos it needs.",
    "intervals.error.counts": "An interval needs 0 ≤ k ≤ n (k={k}, n={n}).",
    "intervals.error.target": "The target must be above 0 and at most 1.",
}

KO: dict[str, str] = {
    "intervals.title": "이 비율을 얼마나 믿을 수 있는가",
    "intervals.col.measure": "지표",
    "intervals.col.split": "분할",
    "intervals.col.value": "비율 (95% 구간)",
    "intervals.col.counts": "사진",
    "intervals.recall": "결함 재현율",
    "intervals.false_alarm": "오경보율",
    "intervals.counts.recall": "결함 사진 {n}장 중 {k}장 검출",
    "intervals.counts.false_alarm": "정상 사진 {n}장 중 {k}장 오경보",
    "intervals.help": "범위는 95% 구간({method})입니다. 실제 비율은 100번 중 95번 이 구간 안에 있습니다. "
    "비율의 근거가 되는 사진이 적을수록 구간이 넓어집니다.",
    "intervals.method.clopper-pearson": "Clopper–Pearson, 정확 구간",
    "intervals.method.wilson": "Wilson 점수 구간",
    "intervals.too_few": "결함 재현율 {target}을(를) 보이기에는 결함 사진이 너무 적습니다. {splits}. 이 사진을 "
    "모두 검출하더라도 95% 구간의 하한은 {target}보다 낮습니다. {target}을(를) 보이려면 한 분할에 결함 사진이 "
    "최소 {needed}장 있고 모두 검출되어야 합니다.",
    "intervals.too_few.split": "{split}: 결함 사진 {n}장, 하한은 최대 {best}",
    "intervals.too_few.none": "{split}: 결함 사진 없음",
    "intervals.never": "결함 재현율이 정확히 1임은 사진을 아무리 많이 모아도 보일 수 없습니다. 모두 검출하더라도 "
    "95% 구간의 하한은 1보다 낮습니다. 필요한 결함 사진 수를 보려면 1보다 낮은 목표를 고르세요.",
    "intervals.error.counts": "구간에는 0 ≤ k ≤ n 이 필요합니다 (k={k}, n={n}).",
    "intervals.error.target": "목표는 0보다 크고 1 이하여야 합니다.",
}

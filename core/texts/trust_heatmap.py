"""Texts of issue 17 (trust at the verdict): the heatmap check (do the model's heatmaps point at the bolt?)."""

EN: dict[str, str] = {
    "heatmap.error.stopped_tuning": "stopped while tuning the quick model's last stage (epoch {epoch} of {epochs})",
    "heatmap.metric": "Heatmap on the bolt",
    "heatmap.metric.help": (
        "Share of the Grad-CAM heatmap's mass inside the central 60 % × 60 % of the crop, where the bolt sits, "
        "averaged over {photos} validation and test photos. A uniform heatmap scores {uniform:.2f}; a heatmap "
        "that points at the bolt scores 0.6 or more. ROAD faithfulness: {road:.2f} (higher: the heatmap shows "
        "what the model uses)."
    ),
    "heatmap.pending": (
        "Heatmap check: not measured yet for this run (measured when training ends, or by `evaluate {run} --json`)."
    ),
    "heatmap.uniform": (
        "This model's heatmaps do not point at the bolt: only {share:.0%} of their mass lies in the centre of "
        "the crop, no better than a uniform map ({uniform:.0%}). Do not trust where they point; a fine-tuned "
        "model's heatmaps do."
    ),
}

KO: dict[str, str] = {
    "heatmap.error.stopped_tuning": "빠른 모델의 마지막 단계를 조정하는 중 멈춤 ({epochs}에폭 중 {epoch}번째)",
    "heatmap.metric": "볼트를 가리키는 히트맵",
    "heatmap.metric.help": (
        "크롭 중앙 60 % × 60 % 영역(볼트가 있는 곳) 안에 든 Grad-CAM 히트맵 질량의 비율로, 검증·테스트 사진 "
        "{photos}장의 평균입니다. 균일한 히트맵은 {uniform:.2f}, 볼트를 가리키는 히트맵은 0.6 이상입니다. "
        "ROAD 충실도: {road:.2f} (높을수록 히트맵이 모델이 실제로 쓰는 곳을 보여 줍니다)."
    ),
    "heatmap.pending": (
        "히트맵 점검: 이 실행은 아직 측정되지 않았습니다 (학습이 끝날 때 또는 `evaluate {run} --json`으로 측정)."
    ),
    "heatmap.uniform": (
        "이 모델의 히트맵은 볼트를 가리키지 않습니다: 질량의 {share:.0%}만 크롭 중앙에 있어 균일한 히트맵"
        "({uniform:.0%})보다 나을 것이 없습니다. 히트맵이 가리키는 곳을 믿지 마십시오. 미세 조정한 모델의 "
        "히트맵은 볼트를 가리킵니다."
    ),
}

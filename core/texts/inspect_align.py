"""Texts of inspect_align (issue 16: inspections): why a photo was not aligned, and bad manual points."""

EN: dict[str, str] = {
    "inspect.align.too_few_positions": (
        "A station needs at least 3 positions to be aligned automatically; click two positions instead."
    ),
    "inspect.align.no_structure": "No bolts or holes were found in the photo. Is it the right station?",
    "inspect.align.weak_match": (
        "Too few positions were found in the photo to trust the alignment. Check the photo or click two positions."
    ),
    "inspect.align.ambiguous": (
        "The positions fit the photo in more than one way. Click two positions to say which is which."
    ),
    "inspect.align.error_boxes": "Each box needs x1 > x0 and y1 > y0.",
    "inspect.align.error_matrix": "An alignment matrix has six numbers.",
    "inspect.align.error_points": (
        "Give at least 2 pairs of points, as many in the reference ({reference}) as in the photo ({photo})."
    ),
    "inspect.align.error_points_finite": "The points must be numbers.",
    "inspect.align.error_points_coincide": "The points coincide; pick points far apart.",
    "inspect.align.error_not_aligned": "The photo is not aligned; nothing can be cropped from it.",
    "inspect.align.error_margin": "A margin must be 0 or more.",
}

KO: dict[str, str] = {
    "inspect.align.too_few_positions": "자동 정렬에는 위치가 3개 이상 필요합니다. 대신 두 위치를 클릭하세요.",
    "inspect.align.no_structure": "사진에서 볼트나 구멍을 찾지 못했습니다. 맞는 스테이션인가요?",
    "inspect.align.weak_match": (
        "사진에서 찾은 위치가 너무 적어 정렬을 믿을 수 없습니다. 사진을 확인하거나 두 위치를 클릭하세요."
    ),
    "inspect.align.ambiguous": "위치가 사진에 여러 방식으로 맞습니다. 두 위치를 클릭해 어느 것인지 알려 주세요.",
    "inspect.align.error_boxes": "각 상자는 x1 > x0, y1 > y0 이어야 합니다.",
    "inspect.align.error_matrix": "정렬 행렬은 숫자 6개입니다.",
    "inspect.align.error_points": ("점 쌍을 2개 이상, 기준 사진({reference})과 사진({photo})에 같은 수만큼 주세요."),
    "inspect.align.error_points_finite": "점은 숫자여야 합니다.",
    "inspect.align.error_points_coincide": "점들이 겹칩니다. 서로 멀리 떨어진 점을 고르세요.",
    "inspect.align.error_not_aligned": "사진이 정렬되지 않아 잘라낼 수 없습니다.",
    "inspect.align.error_margin": "여백은 0 이상이어야 합니다.",
}

"""Train page texts: backbones, weights, the start form, jobs, curves, sweeps."""

EN: dict[str, str] = {
}

KO: dict[str, str] = {
}

"""Knowledge distillation's loss: a student learns the teacher's softened probabilities and the labels.

The loss is Hinton et al.'s: kd_weight · T² · KL(teacher_T ‖ student_T) + (1 − kd_weight) · CE(student, label),
where X_T is the softmax of the logits divided by T. T² keeps the soft term's gradients the size of the hard
term's whatever T is. The teacher's part is computed once per photo before training (its log-probabilities on
the photo as stored), so an epoch costs what fine-tuning costs.

The targets travel through the data loader packed in one float tensor, a row a photo: column 0 the label's
class index, the other columns the teacher's probabilities already softened at T.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def soften(log_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """The teacher's probabilities at temperature T from its log-probabilities (softmax of log p / T)."""
    return torch.softmax(log_probs.float() / temperature, dim=1)


def pack(labels: torch.Tensor, teacher_log_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Rows of (label, softened teacher probabilities...) for CachedImages and DistillationLoss."""
    if len(labels) != len(teacher_log_probs):
        raise ValueError(f"{len(labels)} labels but {len(teacher_log_probs)} teacher rows")
    return torch.cat([labels.float()[:, None], soften(teacher_log_probs, temperature)], dim=1)


def labels_of(targets: torch.Tensor) -> torch.Tensor:
    """The class index of each photo, from plain targets or packed distillation targets."""
    return targets[:, 0].long() if targets.dim() == 2 else targets


class DistillationLoss(nn.Module):
    """kd_weight · T² · KL(teacher_T ‖ student_T) + (1 − kd_weight) · hard(student, label), on packed targets.

    `hard` is the run's ordinary criterion (class weights and label smoothing as configured)."""

    def __init__(self, temperature: float, weight: float, hard: nn.Module) -> None:
        super().__init__()
        self.temperature, self.weight, self.hard = float(temperature), float(weight), hard

    def forward(self, logits: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        labels, teacher = packed[:, 0].long(), packed[:, 1:].float()
        t = self.temperature
        student = F.log_softmax(logits / t, dim=1)
        soft = F.kl_div(student, teacher, reduction="batchmean") * (t * t)
        return self.weight * soft + (1.0 - self.weight) * self.hard(logits, labels)

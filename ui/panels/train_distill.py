"""The Train page's distillation panel: the production model teaches a smaller, faster student."""

from __future__ import annotations

import streamlit as st

from core import auth, distillation, jobs, runs, zoo
from core.workspace import Workspace
from ui import components as ui
from ui.panels import train as form
from ui.panels import train_jobs


def _student_options() -> list[str]:
    return [name for name, arch in zoo.ARCHES.items() if not arch.for_tests]


def _keys(teacher: runs.Run) -> tuple[str, str]:
    """The size and epoch widgets belong to one teacher: a new production model starts them from its defaults."""
    return f"distill_size_{teacher.id}", f"distill_epochs_{teacher.id}"


def _distil(ws: Workspace, me: auth.Actor, teacher_id: int) -> None:
    """on_click of Distil: the panel's student settings as they are now, for the teacher the panel showed."""
    state, (size_key, epochs_key) = st.session_state, _keys(runs.get_run(ws.conn, teacher_id))
    student = state.get(f"distill_student_{ui.lang()}", distillation.DEFAULT_STUDENT)
    size, epochs = state.get(size_key), state.get(epochs_key)
    job_id = distillation.submit_distillation(
        ws.conn, me, student, int(size) if size else None, int(epochs) if epochs else None, teacher_id
    )
    jobs.ensure_worker(ws)
    st.session_state.job_pick = job_id
    train_jobs.note(ws, "ok", job_id, "distill.queued", {"id": job_id, "teacher": teacher_id})


def distil_panel(ws: Workspace) -> None:
    with st.expander(ui.tr("distill.header"), icon=":material/compress:"):
        st.caption(ui.tr("distill.help"))
        teacher_id = runs.production_run_id(ws.conn)
        if teacher_id is None:
            st.info(ui.tr("distill.no_teacher"), icon=":material/info:")
            return
        teacher = runs.get_run(ws.conn, teacher_id)
        tsize = teacher.config.image_size
        st.markdown(
            ui.tr(
                "distill.teacher",
                id=teacher.id,
                arch=teacher.arch,
                size=tsize,
                f1=ui.fmt(teacher.test_macro_f1, "f1"),
                ms=ui.fmt(teacher.cpu_ms, "ms"),
            )
        )
        options = _student_options()
        left, middle, right = st.columns(3)
        student = ui.choice(
            left,
            ui.tr("distill.student"),
            options,
            "distill_student",
            form.arch_text,
            index=options.index(distillation.DEFAULT_STUDENT),
        )
        size_key, epochs_key = _keys(teacher)
        default = distillation.student_size(tsize)
        sizes = sorted({*form.SIZES, default})
        size = middle.selectbox(ui.tr("distill.size"), sizes, index=sizes.index(default), key=size_key)
        right.number_input(ui.tr("train.epochs"), 1, 500, distillation.default_epochs(teacher), key=epochs_key)
        arch, teacher_arch = zoo.get_arch(student), zoo.get_arch(teacher.arch)
        st.caption(
            ui.tr(
                "distill.cost",
                gflops=f"{arch.gflops(size):.2f}",
                teacher_gflops=f"{teacher_arch.gflops(tsize):.2f}",
                share=f"{arch.gflops(size) / teacher_arch.gflops(tsize):.2f}",
            )
        )
        form.weights_note(ws, arch)
        st.button(
            ui.tr("distill.start"),
            icon=":material/compress:",
            key="distill_start",
            on_click=ui.act,
            args=(_distil, ws, teacher.id),
        )

"""The review screen's pictures of a scanned page: the page straightened and the doubtful places,
cached per server process. A stored page's image never changes, so a click in the review queue
(each one reruns the page) decodes and straightens nothing it has shown before."""
from __future__ import annotations

import streamlit as st

from services.ballot_sheet import OPTION_LABELS, OPTIONS
from services.scan_batches import page_image
from services.scan_reader import crop, straightened
from ui import state

PAGE_WIDTH = 900  # px of the straightened page: shown at about 600, sharp on a high-density screen


@st.cache_data(max_entries=200, show_spinner=False)
def _pictures(database_url: str, meeting_id: int, page_id: int, questions: tuple[int, ...],
              signature: bool) -> tuple[bytes | None, tuple[tuple[str, bytes], ...]]:
    shown = page_image(state.session_factory(), meeting_id=meeting_id, page_id=page_id)
    if not shown.image:
        return None, ()
    page = straightened(shown.image, shown.homography, width=PAGE_WIDTH)
    if shown.homography is None:
        return page, ()
    crops = []
    for number in questions:  # a question's three boxes side by side: the mark is judged against its neighbours
        boxes = [shown.boxes[(number, o)] for o in OPTIONS if (number, o) in shown.boxes]
        if boxes:
            x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
            x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
            crops.append((f"Вопрос {number}: " + " · ".join(OPTION_LABELS[o] for o in OPTIONS),
                          crop(shown.image, shown.homography, (x0, y0, x1 - x0, y1 - y0), pad=4.0)))
    if signature and (0, "signature") in shown.boxes:
        crops.append(("Подпись", crop(shown.image, shown.homography, shown.boxes[(0, "signature")], pad=2.0)))
    return page, tuple(crops)


def review_pictures(meeting_id: int, page_id: int, *, questions: tuple[int, ...] = (), signature: bool = False
                    ) -> tuple[bytes | None, tuple[tuple[str, bytes], ...]]:
    """(the straightened page as JPEG, or None without an image; (caption, PNG) of each doubtful
    question's boxes and of the signature box when asked)."""
    return _pictures(state.runtime().settings.database_url, meeting_id, page_id, tuple(questions), signature)

"""Issue 17: the scan of a written decision is stored with it and its SHA-256 is in the seal, so the
protocol's attachment of written decisions carries the images — one file per scanned page of each
paper decision in force, named by premise, owner and sheet, with a list the inspectorate checks
each image against — on SQLite and PostgreSQL, from a batch of Kvorum's own sheets, marked,
scanned and registered as the office does it.

The building (tests/integration/test_closing.py): flats 1 (Андреев), 2 (Борисова), 3 (Власов and
Власова, 1/2 each); two questions; voting ended two days before TODAY."""
from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile

import docx
import openpyxl
import pytest
from sqlalchemy import select, update

from services.models import AgendaQuestion, Decision, OwnerRecord, Premise, ScanPage
from services.results import SCANS_FOLDER, SCANS_HEADER, SCANS_LIST_FILE, protocol_package_zip, safe_file_part
from services.scan_batches import read_scans, register_batch
from services.voting import annul_decision, correct_paper_decision, decision_number
from tests.integration.test_closing import END, KEY, TODAY, meeting_with_registry, owners, vote
from tests.integration.test_scan_reading import CHOICES_FOR, marked, sheets, write

REASON = "внесено не тому собственнику, проверено по подлиннику"


@pytest.fixture
def scanned(session_factory, tmp_path):
    """A meeting whose decisions of Андреев, Борисова and Власов were registered from one scanned
    batch; Власова's decision was typed in by hand."""
    mid = meeting_with_registry(session_factory)
    o = owners(session_factory, mid)
    pdf, meta = sheets(session_factory, mid)
    choices = {o["Андреев"]: CHOICES_FOR, o["Борисова"]: {1: ["abstain"], 2: ["for"]}, o["Власов"]: CHOICES_FOR}
    stack = [img for img, truth in marked(pdf, meta, choices) if truth.owner_id in choices]
    report = read_scans(session_factory, secret_key=KEY, meeting_id=mid, files=write(tmp_path, stack), user="анна",
                        workers=0)
    result = register_batch(session_factory, secret_key=KEY, meeting_id=mid, batch_id=report.batch_id,
                            received_on=END, user="анна", today=TODAY)
    assert (result.registered, result.waiting) == (3, [])
    vote(session_factory, mid, o["Власова"])
    return mid, o


def package(session_factory, mid) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(protocol_package_zip(session_factory, meeting_id=mid, public_url="http://x")))


def scans_folder(zf: zipfile.ZipFile) -> tuple[int, str]:
    """(the attachment's number, its folder's prefix in the package)."""
    [number] = {int(m.group(1)) for n in zf.namelist()
                if (m := re.match(rf"Приложение (\d+)\. {re.escape(SCANS_FOLDER)}/", n))}
    return number, f"Приложение {number}. {SCANS_FOLDER}/"


def scan_list(zf: zipfile.ZipFile, folder: str) -> list[dict]:
    book = openpyxl.load_workbook(io.BytesIO(zf.read(folder + SCANS_LIST_FILE)))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert list(rows[0]) == SCANS_HEADER
    return [dict(zip(SCANS_HEADER, r)) for r in rows[1:]]


def pages_of(session_factory, decision_id) -> list[ScanPage]:
    with session_factory() as s:
        return list(s.scalars(select(ScanPage).where(ScanPage.decision_id == decision_id)
                              .order_by(ScanPage.sheet)))


def paper_decision(session_factory, mid, owner_id) -> Decision:
    with session_factory() as s:
        return s.scalars(select(Decision).where(Decision.meeting_id == mid, Decision.owner_id == owner_id,
                                                Decision.kind == "paper", Decision.status == "counted")).one()


def test_each_scanned_page_is_in_the_package_with_the_sha256_its_decision_sealed(session_factory, scanned):
    mid, o = scanned
    with package(session_factory, mid) as zf:
        number, folder = scans_folder(zf)
        listed = scan_list(zf, folder)
        images = {n[len(folder):]: zf.read(n) for n in zf.namelist()
                  if n.startswith(folder) and n != folder + SCANS_LIST_FILE}
        assert zf.getinfo(next(iter(n for n in zf.namelist() if n.endswith(".jpg")))).compress_type \
            == zipfile.ZIP_STORED  # JPEG is not compressed twice
        protocol = "\n".join(p.text for p in docx.Document(io.BytesIO(zf.read("Протокол.docx"))).paragraphs)

    expected = []
    for surname, premise in (("Андреев", "1"), ("Борисова", "2"), ("Власов", "3")):
        d = paper_decision(session_factory, mid, o[surname])
        sealed = json.loads(d.canonical)["scans"]
        pages = pages_of(session_factory, d.id)
        assert [{"sheet": p.sheet, "sha256": p.image_sha256} for p in pages] == sealed
        with session_factory() as s:
            name = s.get(OwnerRecord, o[surname]).name
        for p in pages:
            expected.append({"Решение": decision_number(mid, d.seq), "Номер помещения": premise,
                             "ФИО/Наименование собственника": name, "Лист": p.sheet, "Листов": p.sheets,
                             "Файл": f"кв_{premise}_{name.replace(' ', '_')}_лист_{p.sheet}.jpg",
                             "SHA-256": p.image_sha256, "Хэш записан в печать решения": decision_number(mid, d.seq),
                             "Изображение совпадает с печатью": "да",
                             "Откуда (файл скана, страница)": f"сканы.pdf, стр. {p.file_page}"})
            # the file is the stored image, byte for byte, and its SHA-256 is the sealed one
            assert hashlib.sha256(images[expected[-1]["Файл"]]).hexdigest() == p.image_sha256
            assert images[expected[-1]["Файл"]][:3] == b"\xff\xd8\xff"
    assert [{k: v for k, v in row.items() if k not in ("№", "Статус решения")} for row in listed] == expected
    assert [row["№"] for row in listed] == list(range(1, len(expected) + 1))
    assert {row["Статус решения"] for row in listed} == {"учитывается"}
    # Власова's decision was typed in by hand: nothing of hers in the folder
    assert sorted(images) == sorted(row["Файл"] for row in expected)
    assert not [n for n in images if "Власова" in n]

    # the protocol lists the attachment under the number the package gives its folder, after the list
    # of written decisions
    listed_titles = re.findall(r"^(\d+)\. (.+)$", protocol, flags=re.M)
    titles = {int(n): t for n, t in listed_titles}
    assert titles[number].startswith("Письменные решения собственников, внесённые по сканам: изображения "
                                     f"подписанных листов ({len(expected)} изображени")
    assert titles[number - 1] == "Письменные решения собственников (перечень; подлинники прилагаются)."
    assert number == max(titles)  # the written decisions are the last attachment (no code-signed ones here)


def test_an_annulled_decision_leaves_its_scans_out_and_a_correction_carries_the_corrected_ones(
        session_factory, scanned):
    mid, o = scanned
    borisova = paper_decision(session_factory, mid, o["Борисова"])
    vlasov = paper_decision(session_factory, mid, o["Власов"])
    annul_decision(session_factory, secret_key=KEY, meeting_id=mid, decision_id=borisova.id, reason=REASON,
                   user="анна", today=TODAY)
    with session_factory() as s:
        questions = list(s.scalars(select(AgendaQuestion.id).where(AgendaQuestion.meeting_id == mid)))
    fixed = correct_paper_decision(session_factory, secret_key=KEY, meeting_id=mid, decision_id=vlasov.id,
                                   marks={q: "against" for q in questions}, reason="ответы внесены с ошибкой",
                                   user="анна", today=TODAY)
    with package(session_factory, mid) as zf:
        _number, folder = scans_folder(zf)
        listed = scan_list(zf, folder)
        names = [n[len(folder):] for n in zf.namelist() if n.startswith(folder)]
    assert not [n for n in names if "Борисова" in n]
    assert {row["ФИО/Наименование собственника"].split()[0] for row in listed} == {"Андреев", "Власов"}
    [row] = [r for r in listed if r["ФИО/Наименование собственника"].startswith("Власов ")]
    # the same paper, keyed again: listed under the correction, its hash in the corrected decision's seal
    assert row["Решение"] == fixed.stored.number
    assert row["Хэш записан в печать решения"] == decision_number(mid, vlasov.seq)
    assert row["SHA-256"] == pages_of(session_factory, vlasov.id)[0].image_sha256
    assert sorted(names) == sorted([r["Файл"] for r in listed] + [SCANS_LIST_FILE])


def test_without_scanned_decisions_there_is_no_scans_attachment(session_factory):
    mid = meeting_with_registry(session_factory)
    vote(session_factory, mid, owners(session_factory, mid)["Андреев"])
    with package(session_factory, mid) as zf:
        assert not [n for n in zf.namelist() if SCANS_FOLDER in n]
        protocol = "\n".join(p.text for p in docx.Document(io.BytesIO(zf.read("Протокол.docx"))).paragraphs)
    assert "внесённые по сканам" not in protocol


def test_file_names_are_safe_whatever_the_registry_calls_the_owner(session_factory, scanned):
    mid, o = scanned
    # a legal entity in a non-residential premise, with a name no file system takes as it is
    with session_factory.begin() as s:
        owner = s.get(OwnerRecord, o["Андреев"])
        owner.name = 'ООО "Рога/Копыта" ..\\..\\ЖЭК\u202e'
        s.execute(update(Premise).where(Premise.id == owner.premise_id).values(kind="non_residential"))
    with package(session_factory, mid) as zf:
        _number, folder = scans_folder(zf)
        names = [n[len(folder):] for n in zf.namelist() if n.startswith(folder)]
        listed = scan_list(zf, folder)
    ours = [n for n in names if n.startswith("пом_1_")]
    assert ours and all(n.startswith("пом_1_ООО_Рога_Копыта_.._.._ЖЭК_лист_") for n in ours), names
    assert all("/" not in n and "\\" not in n and "\u202e" not in n for n in names)
    assert {r["Файл"] for r in listed} == set(names) - {SCANS_LIST_FILE}


def test_an_image_changed_in_the_database_is_listed_as_not_matching_its_seal(session_factory, scanned):
    mid, o = scanned
    d = paper_decision(session_factory, mid, o["Андреев"])
    with session_factory.begin() as s:  # another picture behind the app, its recorded hash left as it was
        s.execute(update(ScanPage).where(ScanPage.decision_id == d.id).values(image=b"\xff\xd8\xff another"))
    with package(session_factory, mid) as zf:
        _number, folder = scans_folder(zf)
        listed = {r["ФИО/Наименование собственника"].split()[0]: r for r in scan_list(zf, folder)}
        image = zf.read(folder + listed["Андреев"]["Файл"])
    assert listed["Андреев"]["Изображение совпадает с печатью"] == "НЕТ"
    assert listed["Андреев"]["SHA-256"] == json.loads(d.canonical)["scans"][0]["sha256"]
    assert hashlib.sha256(image).hexdigest() != listed["Андреев"]["SHA-256"]
    assert listed["Борисова"]["Изображение совпадает с печатью"] == "да"


@pytest.mark.parametrize("text,expected", [
    ("Иванов Иван Иванович", "Иванов_Иван_Иванович"),
    ("12а", "12а"),
    ("12/1", "12_1"),
    ("../../etc/passwd", "etc_passwd"),
    ("C:\\Windows\\system32", "C_Windows_system32"),
    ('ООО «Ромашка» "Рога"', "ООО_«Ромашка»_Рога"),
    ("x\u202egpj.exe", "x_gpj.exe"),
    ("a\tb\nc", "a_b_c"),
    ("..", "без_имени"),
    ("", "без_имени"),
])
def test_a_file_name_part_keeps_cyrillic_and_drops_what_a_path_would_obey(text, expected):
    assert safe_file_part(text) == expected

#!/usr/bin/env python3
"""Kvorum administrator's command line. Every command honours DATABASE_URL and only calls services.

    python manage.py migrate
    python manage.py create-user [--username U] [--role admin|operator|observer]
    python manage.py check-registry FILE [--json]
    python manage.py create-meeting --from meeting.json [--json]
    python manage.py import-registry --meeting ID FILE [--replace] [--json]
    python manage.py demo
    python manage.py send-notices --meeting ID (--all | --not-notified) [--wait] [--late]
    python manage.py send-worker [--once]
    python manage.py import-decisions --meeting ID FILE [--received YYYY-MM-DD]
    python manage.py ballots --meeting ID --out FILE.pdf [--not-voted]
    python manage.py read-scans --meeting ID FILE... [--json] [--dry-run] [--register --received YYYY-MM-DD]
    python manage.py verify-decisions [--meeting ID]
    python manage.py verify-journal
    python manage.py rebuild-totals --meeting ID --yes
    python manage.py tally --meeting ID [--json]
    python manage.py protocol --meeting ID --out FILE.docx
    python manage.py close-count --meeting ID [--date YYYY-MM-DD]
    python manage.py backup
    python manage.py restore FILE
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from services.errors import DomainError  # noqa: E402
from services.spreadsheet import TableFileError  # noqa: E402


def _runtime():
    from services.runtime import build_runtime

    return build_runtime()


def _summary(report) -> dict:
    """The report for --json: the area and the votes are numbers rounded as every page rounds them."""
    from services.figures import round2

    return {**report.summary(), "total_area": float(round2(report.total_area)), "votes": float(round2(report.votes))}


def _print_report(report, summary: dict) -> None:
    from services.figures import format_area, format_votes

    print(f"Собственников (принято строк): {summary['owners']}")
    print(f"Помещений: {summary['premises']}")
    print(f"Общая площадь: {format_area(report.total_area)}")
    print(f"Голосов: {format_votes(report.votes)}")
    if summary["errors"]:
        print(f"\nОтклонено ({len(summary['errors'])}):")
        for e in summary["errors"]:
            print(f"  строка {e['row']}, столбец «{e['column']}»: {e['message']}")
    if summary["warnings"]:
        print(f"\nПредупреждения ({len(summary['warnings'])}):")
        for w in summary["warnings"]:
            where = f"строка {w['row']}" if w["row"] else f"помещение {w['premise']}"
            print(f"  {where}: {w['message']}")


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise TableFileError(f"Файл «{path}» не найден.") from None
    except IsADirectoryError:
        raise TableFileError(f"«{path}» — папка, а не файл.") from None
    except PermissionError:
        raise TableFileError(f"Нет прав на чтение файла «{path}».") from None


def _iso_date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"дата «{text}» не распознана: нужно ГГГГ-ММ-ДД") from None


def cmd_migrate(args) -> int:
    _runtime()
    print("Схема базы данных обновлена.")
    return 0


def cmd_create_user(args) -> int:
    from services.auth import create_user

    rt = _runtime()
    username = args.username or input("Имя пользователя: ").strip()
    password = os.environ.get("KVORUM_PASSWORD") or args.password
    if not password:
        password = getpass.getpass("Пароль: ")
        if getpass.getpass("Пароль ещё раз: ") != password:
            print("Пароли не совпадают.", file=sys.stderr)
            return 2
    user = create_user(rt.session_factory, username=username, password=password, role=args.role,
                       full_name=args.full_name or "")
    from services.first_run import TOKEN_FILE

    (rt.settings.data_dir / TOKEN_FILE).unlink(missing_ok=True)  # the set-up form's code has served its purpose
    print(f"Пользователь «{user.username}» создан (роль: {user.role}).")
    return 0


def cmd_check_registry(args) -> int:
    from services.registry_parse import parse_registry

    report = parse_registry(_read_file(args.file), Path(args.file).name)
    summary = _summary(report)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        _print_report(report, summary)
    return 0


def cmd_create_meeting(args) -> int:
    from services.meetings import create_meeting, meeting_from_json

    data = meeting_from_json(args.source)
    meeting_id = create_meeting(_runtime().session_factory, data=data)
    print(json.dumps({"id": meeting_id}) if args.json else meeting_id)
    return 0


def cmd_import_registry(args) -> int:
    from services.registry import import_registry

    rt = _runtime()
    report, _result = import_registry(
        rt.session_factory, meeting_id=args.meeting, data=_read_file(args.file), filename=Path(args.file).name,
        replace=args.replace,
    )
    summary = _summary(report)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        _print_report(report, summary)
        print("\nРеестр " + ("заменён." if args.replace else "дополнен."))
    return 0


def cmd_demo(args) -> int:
    from services.demo import create_live_demo

    rt = _runtime()
    demo = create_live_demo(rt.session_factory, secret_key=rt.secret_key)
    print(f"Создано демонстрационное собрание № {demo.meeting_id} (голосование идёт). Код для пробы страницы "
          f"голосования: {demo.code} — помещение {demo.premise}, {demo.owner}.")
    return 0


def _sender_config(rt):
    from services.sender import SenderConfig

    s = rt.settings
    return SenderConfig(secret_key=rt.secret_key, public_url=s.public_url, mail_from=s.mail_from,
                        throttle_seconds=s.send_throttle_seconds, retry_seconds=s.send_retry_seconds,
                        max_attempts=s.send_max_attempts)


def cmd_send_notices(args) -> int:
    import uuid

    from services.mailer import delivery_label, make_mailer
    from services.notify import job_progress, owner_status_index, queue_notices
    from services.sender import run_sender

    rt = _runtime()
    index = owner_status_index(rt.session_factory, meeting_id=args.meeting)
    if args.not_notified:
        index = index[index["last_notice"].isna()]
    owner_ids = [int(i) for i in index["id"]]
    if not owner_ids:
        print("Некого уведомлять: все собственники уже уведомлены." if args.not_notified
              else "В реестре собрания нет собственников.")
        return 0
    result = queue_notices(rt.session_factory, meeting_id=args.meeting, owner_ids=owner_ids,
                           request_key=uuid.uuid4().hex, user="manage.py", confirm_late=args.late)
    print(f"Задание № {result.job_id}: в очереди {result.queued}, без адреса эл. почты {result.skipped}."
          + (" Отправка после 10-дневного срока: уведомления отмечены как поздние." if result.late else ""))
    if not args.wait:
        print("Отправит фоновый отправитель приложения или `manage.py send-worker`.")
        return 0
    print(f"Доставка: {delivery_label(rt.settings)}")
    stats = run_sender(rt.session_factory, mailer_factory=lambda: make_mailer(rt.settings),
                       config=_sender_config(rt), until_idle=True,
                       on_batch=lambda st: print(f"  отправлено {st.sent}, ошибок {st.failed}", file=sys.stderr))
    p = job_progress(rt.session_factory, job_id=result.job_id)
    print(f"Отправлено: {p.sent}; не доставлено: {p.failed}; пропущено без адреса эл. почты: {p.skipped}.")
    if stats.last_server_error and p.failed:
        print(f"Последняя ошибка сервера: {stats.last_server_error}")
    return 0 if p.failed == 0 else 1


def cmd_send_worker(args) -> int:
    import signal
    import threading

    from services.mailer import delivery_label, make_mailer
    from services.sender import run_sender

    rt = _runtime()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"Отправитель уведомлений запущен. Доставка: {delivery_label(rt.settings)}", file=sys.stderr)
    stats = run_sender(rt.session_factory, mailer_factory=lambda: make_mailer(rt.settings),
                       config=_sender_config(rt), stop=stop, until_idle=args.once)
    print(f"Отправлено: {stats.sent}; не доставлено: {stats.failed}.", file=sys.stderr)
    return 0


def cmd_import_decisions(args) -> int:
    from services.decision_import import import_decisions

    rt = _runtime()
    report, result = import_decisions(rt.session_factory, secret_key=rt.secret_key, meeting_id=args.meeting,
                                      data=_read_file(args.file), filename=Path(args.file).name, user="manage.py",
                                      received_on=args.received)
    for note in report.notes:
        print(note)
    print(f"Загружено решений: {result.total} (учитываются {result.counted}, поздних {result.late}); "
          f"недействительных ответов на вопросы: {report.invalid_answers}.")
    if result.joint_same or result.joint_conflicts:
        print(f"Решения совместных собственников: совпадают с учтённым — {result.joint_same}, расходятся — "
              f"{result.joint_conflicts} (выберите учитываемое на странице «Решения собственников»).")
    if report.errors:
        print(f"Отклонено строк: {len({e.row for e in report.errors})}:")
        for e in report.errors:
            print(f"  строка {e.row}, «{e.column}»: {e.message}")
    return 0


def cmd_ballots(args) -> int:
    from services.ballot_sheet import ballots_pdf
    from services.voting import not_answered_owner_ids, owner_ids_of

    rt = _runtime()
    ids = (not_answered_owner_ids(rt.session_factory, meeting_id=args.meeting) if args.not_voted
           else owner_ids_of(rt.session_factory, meeting_id=args.meeting))
    pdf = ballots_pdf(rt.session_factory, secret_key=rt.secret_key, meeting_id=args.meeting, owner_ids=ids)
    Path(args.out).write_bytes(pdf)
    print(f"Бланков решений: {len(ids)}; записано в {args.out}.", file=sys.stderr)
    return 0


def cmd_read_scans(args) -> int:
    from services.scan_batches import read_scans, register_batch
    from services.scan_reader import FileError

    if args.register and args.dry_run:
        raise DomainError("--register и --dry-run вместе не имеют смысла: при --dry-run ничего не сохраняется.")
    if args.register and args.received is None:
        raise DomainError("Для --register укажите дату получения решений: --received ГГГГ-ММ-ДД.")
    for f in args.files:
        if not Path(f).is_file():
            raise DomainError(f"Файл «{f}» не найден.")
    rt = _runtime()
    report = read_scans(rt.session_factory, secret_key=rt.secret_key, meeting_id=args.meeting,
                        files=[(f, Path(f).name) for f in args.files], user="manage.py", dry_run=args.dry_run,
                        workers=args.workers)
    premises = _premises(rt, args.meeting)
    items = sorted(report.items, key=lambda i: (i.file, i.page or 0))
    if args.json:
        out = []
        for item in items:
            if isinstance(item, FileError):
                out.append({"file": item.file, "page": item.page, "error": item.message, "review": True})
            else:
                out.append(item.as_json(premises.get(item.owner_id)))
        json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        for item in items:
            if isinstance(item, FileError):
                print(item.message)
            elif item.review:
                print(f"{item.file}, стр. {item.page}: на проверку — {' '.join(item.reasons)}")
    print(f"Страниц: {report.pages}; принято без проверки: {report.accepted}; на проверку: {report.review}"
          + (f"; прочитаны раньше и пропущены: {report.skipped}" if report.skipped else "")
          + (f"; пакет № {report.batch_id}" if report.batch_id else "; ничего не сохранено (--dry-run)") + ".",
          file=sys.stderr)
    if args.register and report.batch_id:
        result = register_batch(rt.session_factory, secret_key=rt.secret_key, meeting_id=args.meeting,
                                batch_id=report.batch_id, received_on=args.received, user="manage.py")
        print(f"Внесено решений: {result.registered} (учитываются {result.counted}, поздних {result.late}, "
              f"повторных {result.conflicts}); ждут проверки или листов: {len(result.waiting)}.", file=sys.stderr)
    return 0


def _premises(rt, meeting_id: int) -> dict[int, str]:
    from sqlalchemy import select

    from services.models import OwnerRecord, Premise

    with rt.session_factory() as s:
        return dict(s.execute(select(OwnerRecord.id, Premise.number).join(Premise, Premise.id == OwnerRecord.premise_id)
                              .where(OwnerRecord.meeting_id == meeting_id)).all())


def cmd_verify_decisions(args) -> int:
    from services.voting import verify_decisions

    rt = _runtime()
    return _print_check(verify_decisions(rt.session_factory, secret_key=rt.secret_key, meeting_id=args.meeting))


def _print_check(report) -> int:
    """A seal check's verdict and problems (VerifyReport, JournalReport); 1 when something changed."""
    print(report.verdict)
    for p in report.problems:
        print(f"  {p}")
    return 0 if report.ok else 1


def cmd_verify_journal(args) -> int:
    from services.audit import verify_journal

    rt = _runtime()
    return _print_check(verify_journal(rt.session_factory, secret_key=rt.secret_key))


def cmd_rebuild_totals(args) -> int:
    from services.tally import rebuild_running_totals

    if not args.yes:
        print("Текущие итоги будут пересчитаны заново из решений в базе данных — в том числе изменённых в обход "
              "программы. Сначала выполните verify-decisions и выясните причину расхождения; затем повторите "
              "команду с --yes.")
        return 1
    differed = rebuild_running_totals(_runtime().session_factory, meeting_id=args.meeting, user="manage.py")
    print("Текущие итоги пересчитаны заново" + (" (они расходились с полным пересчётом)." if differed
                                               else " (они совпадали с полным пересчётом)."))
    return 0


def cmd_tally(args) -> int:
    from services.figures import format_percent
    from services.figures import format_votes as v  # the figures as every page writes them
    from services.tally import recount, tally_json

    t = recount(_runtime().session_factory, meeting_id=args.meeting)
    if args.json:
        print(json.dumps(tally_json(t), ensure_ascii=False))
        return 0
    print(f"Всего голосов: {v(t.all_votes)}; приняли участие: {v(t.participants)} "
          f"({format_percent(t.participation)}) — {'кворум есть' if t.quorum else 'кворума нет'}.")
    for q in t.questions:
        print(f"  {q.number}. за {v(q.votes['for'])}, против {v(q.votes['against'])}, воздержались "
              f"{v(q.votes['abstain'])}, недействительно {v(q.votes['invalid'])} — "
              f"{'решение принято' if q.adopted else 'решение не принято'}")
    return 0


def cmd_protocol(args) -> int:
    """The protocol as the results page offers it: fixed when the count is closed, a draft otherwise."""
    from services.closing import count_state
    from services.results import protocol_docx

    sf = _runtime().session_factory
    data = protocol_docx(sf, meeting_id=args.meeting)
    out = Path(args.out)
    out.write_bytes(data)
    state = count_state(sf, meeting_id=args.meeting)
    print(f"Протокол № {state.number} записан в {out}" + (f" (редакция {state.version})" if state.version > 1 else "")
          if state.closed else f"Проект протокола (подсчёт не закрыт) записан в {out}")
    return 0


def cmd_close_count(args) -> int:
    from services.closing import close_count
    from services.owner_fields import format_date

    drawn = None
    if args.date:
        try:
            import datetime as dt

            drawn = dt.date.fromisoformat(args.date)
        except ValueError:
            print(f"Ошибка: --date ожидает дату в виде ГГГГ-ММ-ДД, указано «{args.date}».", file=sys.stderr)
            return 2
    state = close_count(_runtime().session_factory, meeting_id=args.meeting, user="manage.py", drawn_up_on=drawn)
    print(f"Подсчёт закрыт: протокол № {state.number} от {format_date(state.drawn_up_on)}"
          + (f", редакция {state.version}" if state.version > 1 else "") + ".")
    return 0


def cmd_backup(args) -> int:
    from services.audit import record
    from services.backup import backup

    rt = _runtime()
    result = backup(database_url=rt.settings.database_url, data_dir=rt.settings.data_dir)
    record(rt.session_factory, actor="manage.py", action="backup")
    print(f"Резервная копия: {result.path} ({result.size / 1024 / 1024:.1f} МБ)."
          + (" Ключ экземпляра сохранён рядом (.key) — храните их вместе и в защищённом месте." if result.key_copied
             else ""))
    return 0


def cmd_restore(args) -> int:
    from services.audit import record
    from services.backup import restore
    from services.settings import load_settings

    settings = load_settings()
    if not args.yes:
        answer = input(f"Содержимое базы будет заменено копией {args.file}. Продолжить? [да/нет] ").strip().lower()
        if answer not in ("да", "yes", "y", "д"):
            print("Отменено.")
            return 1
    restore(database_url=settings.database_url, data_dir=settings.data_dir, backup_path=Path(args.file))
    rt = _runtime()  # upgrades the schema of an older backup
    record(rt.session_factory, actor="manage.py", action="restore")
    print("База данных восстановлена из резервной копии. Проверьте решения: manage.py verify-decisions")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="manage.py", description="Kvorum: команды администратора")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="обновить схему базы данных").set_defaults(func=cmd_migrate)

    s = sub.add_parser("create-user", help="создать сотрудника")
    s.add_argument("--username")
    s.add_argument("--password", help="лучше передать в KVORUM_PASSWORD или ввести по запросу")
    s.add_argument("--full-name")
    s.add_argument("--role", default="admin", choices=["admin", "operator", "observer"])
    s.set_defaults(func=cmd_create_user)

    s = sub.add_parser("check-registry", help="проверить файл реестра, ничего не сохраняя")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_check_registry)

    s = sub.add_parser("create-meeting", help="создать собрание из JSON")
    s.add_argument("--from", dest="source", required=True)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_create_meeting)

    s = sub.add_parser("import-registry", help="загрузить реестр собственников в собрание")
    s.add_argument("--meeting", type=int, required=True)
    s.add_argument("file")
    s.add_argument("--replace", action="store_true", help="заменить реестр (иначе — добавить к нему)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_import_registry)

    sub.add_parser("demo", help="создать демонстрационное собрание").set_defaults(func=cmd_demo)

    s = sub.add_parser("send-notices", help="поставить в очередь уведомления собственникам")
    s.add_argument("--meeting", type=int, required=True)
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--all", action="store_true", help="всем собственникам")
    who.add_argument("--not-notified", action="store_true", help="только неуведомлённым")
    s.add_argument("--wait", action="store_true", help="отправить сейчас и дождаться окончания")
    s.add_argument("--late", action="store_true", help="подтвердить отправку после 10-дневного срока")
    s.set_defaults(func=cmd_send_notices)

    s = sub.add_parser("ballots", help="бланки решений для печати (PDF, читаются со сканов)")
    s.add_argument("--meeting", type=int, required=True)
    s.add_argument("--out", required=True, metavar="FILE.pdf")
    s.add_argument("--not-voted", action="store_true", help="только для собственников без решения")
    s.set_defaults(func=cmd_ballots)

    s = sub.add_parser("read-scans", help="прочитать сканы подписанных решений (PDF, TIFF, JPEG, PNG)")
    s.add_argument("--meeting", type=int, required=True)
    s.add_argument("files", nargs="+", metavar="FILE")
    s.add_argument("--json", action="store_true", help="по странице на объект JSON")
    s.add_argument("--dry-run", action="store_true", help="только прочитать, ничего не сохранять")
    s.add_argument("--workers", type=int, default=None, help="процессов чтения (по умолчанию: ядер − 1)")
    s.add_argument("--register", action="store_true",
                   help="внести решения с листов, принятых без проверки (остальные ждут проверки на странице)")
    s.add_argument("--received", type=_iso_date, metavar="ГГГГ-ММ-ДД", help="дата получения решений пакета")
    s.set_defaults(func=cmd_read_scans)

    s = sub.add_parser("import-decisions", help="загрузить письменные решения из таблицы")
    s.add_argument("--meeting", type=int, required=True)
    s.add_argument("--received", type=_iso_date, metavar="ГГГГ-ММ-ДД",
                   help="дата получения решений, у которых в файле нет даты (одна на весь файл)")
    s.add_argument("file")
    s.set_defaults(func=cmd_import_decisions)

    s = sub.add_parser("verify-decisions", help="проверить печати всех решений")
    s.add_argument("--meeting", type=int)
    s.set_defaults(func=cmd_verify_decisions)

    sub.add_parser("verify-journal", help="проверить цепочку печатей журнала действий").set_defaults(
        func=cmd_verify_journal)

    s = sub.add_parser("rebuild-totals", help="пересчитать текущие итоги собрания заново (администратор)")
    s.add_argument("--meeting", type=int, required=True)
    s.add_argument("--yes", action="store_true", help="без вопроса: причина расхождения выяснена")
    s.set_defaults(func=cmd_rebuild_totals)

    s = sub.add_parser("tally", help="подсчитать голоса собрания")
    s.add_argument("--meeting", type=int, required=True)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_tally)

    s = sub.add_parser("protocol", help="записать протокол собрания (.docx): итоговый или проект")
    s.add_argument("--meeting", type=int, required=True)
    s.add_argument("--out", required=True, help="файл .docx")
    s.set_defaults(func=cmd_protocol)

    s = sub.add_parser("close-count", help="закрыть подсчёт: номер и дата протокола, решения блокируются")
    s.add_argument("--meeting", type=int, required=True)
    s.add_argument("--date", help="дата протокола ГГГГ-ММ-ДД (по умолчанию — внесённая или сегодняшняя)")
    s.set_defaults(func=cmd_close_count)

    sub.add_parser("backup", help="резервная копия базы данных в data/backups/").set_defaults(func=cmd_backup)

    s = sub.add_parser("restore", help="восстановить базу данных из резервной копии")
    s.add_argument("file")
    s.add_argument("--yes", action="store_true", help="не спрашивать подтверждение")
    s.set_defaults(func=cmd_restore)

    s = sub.add_parser("send-worker", help="фоновый отправитель уведомлений (отдельный процесс)")
    s.add_argument("--once", action="store_true", help="выйти, когда очередь опустеет")
    s.set_defaults(func=cmd_send_worker)
    return p


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # the database, key, outbox and backups it writes are this account's only
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (TableFileError, DomainError) as exc:
        print(f"Ошибка: {exc}", file=sys.stderr)
        for line in getattr(exc, "details", []) or []:
            print(f"  {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

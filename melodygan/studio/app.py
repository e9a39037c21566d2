"""The studio's ASGI app: one page and a JSON API over the library's jobs.

Every piece of model work (generate, harmonize, infill, vary, arrange, reading an upload) is a
*job*: the POST answers ``202`` with the job at once (or waits up to ``?wait=SECONDS`` and answers
with the finished job), ``GET /api/jobs/{id}`` reports its stage and progress, ``DELETE`` cancels
it. A finished job's ``result.clips`` are clips: the music as JSON (times in grid steps) plus the
URLs of its MIDI, WAV and MusicXML. Errors are ``{"error": "one line"}`` with a 4xx status. The
full schema is served at ``/openapi.json`` and browsable at ``/docs``; docs/studio.md has a table.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.middleware.trustedhost import TrustedHostMiddleware

from melodygan import __version__
from melodygan.errors import MelodyganError
from melodygan.formats.readers import AUDIO_SUFFIXES, SCORE_SUFFIXES
from melodygan.piece import Piece
from melodygan.studio.clips import FILE_KINDS, KEY_NAMES, MEDIA_TYPES, Clip, ClipStore
from melodygan.studio.jobs import Job, JobRunner, Progress

STATIC = Path(__file__).resolve().parent / "static"
ENGINES = ("ar", "gan", "hybrid")
GENRES = ("folk", "pop")
ACCOMPANIMENTS = ("block", "sustained", "waltz", "arpeggio", "alberti", "broken", "none")
BASSES = ("root", "root-fifth", "walking", "none")
PARTS = ("melody", "chords", "both")
CHORD_RATES = ("auto", "beat", "half-bar", "bar")
HARMONY_STYLES = ("leadsheet", "chorale")  # chord symbols + accompaniment; four voices in Bach's manner
MAX_BARS = 64
WAIT = "seconds to wait for the result (0: answer 202 with the job at once)"
Wait = Annotated[float, Query(ge=0, le=600, description=WAIT)]
PollWait = Annotated[float, Query(ge=0, le=60, description="seconds to wait for the job to end")]
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


@dataclass
class StudioSettings:
    """What the server is started with.

    Attributes:
        ar_checkpoint, gan_checkpoint, harmonizer_checkpoint: model folders; None = the shipped weights.
        device: ``cpu``/``cuda``; None = CUDA when available.
        max_upload_bytes: the largest upload accepted.
        workers: model jobs run at once (each on one CPU thread).
        allowed_hosts: ``Host`` headers answered (None = any): the loopback names by default, so a
            web page elsewhere cannot reach the server through a DNS name that points here.
    """

    ar_checkpoint: str | Path | None = None
    gan_checkpoint: str | Path | None = None
    harmonizer_checkpoint: str | Path | None = None
    device: str | None = None
    max_upload_bytes: int = 20 * 1024 * 1024
    workers: int = 2
    allowed_hosts: list[str] | None = None
    warm_up: bool = False  # load the models in the background at start, so the first job is quick


# --- request bodies ---------------------------------------------------------------------------
class Arrangement(BaseModel):
    accompaniment: Literal[ACCOMPANIMENTS] = Field("block", description="chord-track pattern, or none")  # type: ignore[valid-type]
    bass: Literal[BASSES] = Field("root", description="bass pattern, or none")  # type: ignore[valid-type]


class GenerateRequest(Arrangement):
    engine: Literal[ENGINES] = Field(  # type: ignore[valid-type]
        "ar", description="ar: transformer; gan: GAN melody; hybrid: transformer chords, GAN melody")
    genre: Literal[GENRES] = "folk"  # type: ignore[valid-type]
    key: str | None = Field(None, description="G, Em, Bb ...; empty or null: drawn from the training keys")
    meter: str = Field("4/4", description="4/4, 3/4, 6/8 ...")
    tempo_bpm: float = Field(110.0, ge=30, le=300)
    bars: int = Field(8, ge=1, le=MAX_BARS)
    chords: str | None = Field(None, description='one chord per bar, repeated: "C G Am F"; '
                                                 '"C G | Am F" puts two in a bar')
    seed: int = Field(1, ge=0, le=2**31 - 1)
    temperature: float = Field(1.0, ge=0, le=3)


class ClipRequest(BaseModel):
    clip: str = Field(..., description="id of the clip to work on")


class HarmonizeRequest(ClipRequest, Arrangement):
    key: str | None = Field(None, description="key; null: estimated from the notes")
    genre: Literal[GENRES] | None = Field(None, description="null: guessed from the melody's rhythm")  # type: ignore[valid-type]
    chord_rate: Literal[CHORD_RATES] = "auto"  # type: ignore[valid-type]
    fix: str | None = Field(None, description='chords to keep, "3:G7,5:Em"')
    style: Literal[HARMONY_STYLES] = Field("leadsheet", description="leadsheet: chord symbols and an "  # type: ignore[valid-type]
                                           "accompaniment; chorale: alto, tenor and bass under the melody")
    seed: int = Field(1, ge=0, le=2**31 - 1)


class InfillRequest(ClipRequest):
    bars: str = Field(..., description='bars to rewrite: "3-4" or "5" (1 = the first full bar, 0 = the pickup)')
    part: Literal[PARTS] = "melody"  # type: ignore[valid-type]
    seed: int = Field(1, ge=0, le=2**31 - 1)
    temperature: float = Field(1.0, ge=0.05, le=3)
    genre: Literal[GENRES] | None = None  # type: ignore[valid-type]


class VaryRequest(ClipRequest):
    keep: Literal["chords", "melody"] = Field("chords", description="chords: new melody over them; melody: new chords")
    amount: float = Field(1.0, gt=0, le=1, description="keep=chords: share of bars with a new melody")
    num: int = Field(1, ge=1, le=8)
    seed: int = Field(1, ge=0, le=2**31 - 1)
    genre: Literal[GENRES] | None = None  # type: ignore[valid-type]


class ArrangeRequest(ClipRequest, Arrangement):
    pass


# --- helpers ------------------------------------------------------------------------------------
def _meter(text: str) -> tuple[int, int]:
    from melodygan.tokens import METERS

    try:
        num, den = (int(x) for x in text.split("/"))
    except ValueError:
        raise MelodyganError(f"meter {text!r} is not N/D, e.g. 4/4, 3/4, 6/8") from None
    if (num, den) not in METERS:
        raise MelodyganError(f"meter {text} is not one the models know; allowed: "
                             + ", ".join(f"{n}/{d}" for n, d in METERS))
    return num, den


def _key(text: str | None) -> str | None:
    from melodygan.keys import Key

    if text is None or not text.strip() or text.strip().lower() in ("random", "any", "auto"):
        return None
    try:
        Key.parse(text)
    except ValueError as e:
        raise MelodyganError(str(e)) from None
    return text.strip()


def _arranged(sheet: Piece, accompaniment: str, bass: str) -> Piece:
    """The lead sheet with its Chords and Bass tracks (none without chord symbols)."""
    from melodygan.engines.arrange import arrange

    if not sheet.chords or (accompaniment == "none" and bass == "none"):
        return sheet
    band = arrange(sheet.replace(voices={}), style="block" if accompaniment == "none" else accompaniment, bass=bass)
    if accompaniment == "none":
        band = band.replace(voices={k: v for k, v in band.voices.items() if k != "Chords"})
    return band


_MAGIC: dict[str, tuple[bytes, ...]] = {
    ".mid": (b"MThd",), ".midi": (b"MThd",), ".mxl": (b"PK",), ".flac": (b"fLaC",), ".ogg": (b"OggS",),
    ".wav": (b"RIFF", b"RF64"), ".mp3": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xfa"),
}


def sniff(suffix: str, head: bytes) -> str | None:
    """Why the first bytes of an upload cannot be a file of this type, or None when they can."""
    magic = _MAGIC.get(suffix)
    if magic is not None:
        if suffix == ".wav" and head[8:12] != b"WAVE" and head.startswith((b"RIFF", b"RF64")):
            return "this is a RIFF file but not a WAV recording"
        return None if head.startswith(magic) else \
            f"this is not a {suffix[1:].upper()} file (its first bytes say otherwise)"
    if b"\x00" in head:
        return f"this is a binary file, not {suffix[1:]} text"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if suffix in (".xml", ".musicxml") and not text.startswith("<"):
        return "this is not MusicXML (it does not start with an XML tag)"
    return None


def _schema_rows(schema: dict[str, Any], components: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, type and default, description) of each field of a request body schema."""
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    rows = []
    for name, field in schema.get("properties", {}).items():
        options = field.get("anyOf", [field])
        kinds = [" | ".join(map(str, o["enum"])) if "enum" in o else o.get("type", "") for o in options]
        text = " or ".join(k for k in kinds if k)
        if "default" in field:
            text += f", default {field['default']!r}"
        elif name in schema.get("required", []):
            text += ", required"
        rows.append((name, text, field.get("description", "")))
    return rows


def api_page(spec: dict[str, Any]) -> str:
    """The API described from its OpenAPI schema as one plain HTML page (no scripts, works offline)."""
    from html import escape

    components = spec.get("components", {}).get("schemas", {})
    parts = [f"<!doctype html><meta charset='utf-8'><title>{escape(spec['info']['title'])} API</title>",
             "<link rel='stylesheet' href='/static/studio.css'><style>body{padding:16px 24px;max-width:1100px}"
             "table{border-collapse:collapse;margin:6px 0 18px}td,th{border:1px solid #dcdad4;padding:4px 8px;"
             "text-align:left;vertical-align:top}code{font-size:13px}h3{color:#23262b;font-size:15px;margin-top:22px}</style>",
             f"<h1>{escape(spec['info']['title'])} {escape(spec['info']['version'])}: the JSON API</h1>",
             f"<p>{escape(spec['info'].get('description', ''))}</p>",
             "<p>The machine-readable schema: <a href='/openapi.json'>/openapi.json</a>.</p>"]
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            parts.append(f"<h3><code>{method.upper()} {escape(path)}</code></h3><p>{escape(op.get('summary', ''))}</p>")
            rows = [(p["name"], f"{p.get('in', '')} {p.get('schema', {}).get('type', '')}".strip(),
                     p.get("description", "")) for p in op.get("parameters", [])]
            for media in op.get("requestBody", {}).get("content", {}).values():
                rows += _schema_rows(media.get("schema", {}), components)
            if rows:
                parts.append("<table><tr><th>field</th><th>type</th><th>meaning</th></tr>" + "".join(
                    f"<tr><td><code>{escape(a)}</code></td><td>{escape(b)}</td><td>{escape(c)}</td></tr>"
                    for a, b, c in rows) + "</table>")
    return "\n".join(parts)


# --- the app ------------------------------------------------------------------------------------
def create_app(settings: StudioSettings | None = None) -> FastAPI:
    """The studio's ASGI app (serve it with uvicorn, or call it through a test client)."""
    settings = settings or StudioSettings()
    store = ClipStore()
    runner = JobRunner(settings.workers)
    files_pool = JobRunner(2)  # WAV / MusicXML rendering beside the model work

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.warm_up:
            runner.submit("warm-up", warm_up)
        try:
            yield
        finally:
            runner.shutdown()
            files_pool.shutdown(wait=True)  # renders take a second or two; then nothing writes
            store.close()

    app = FastAPI(title="melodygan studio", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Generate lead sheets, harmonize melodies, regenerate bars, and download MIDI, "
                              "WAV and MusicXML. Model work runs as jobs: POST starts one (202), "
                              "`GET /api/jobs/{id}` reports it, `DELETE` cancels it; `?wait=SECONDS` on a POST "
                              "waits for the result. Errors: a 4xx with `{\"error\": \"...\"}`.")
    app.state.store, app.state.runner, app.state.settings = store, runner, settings
    if settings.allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(MelodyganError)
    async def _user_error(request: Request, exc: MelodyganError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        parts = []
        for e in errors[:3]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path"))
            parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg", "invalid")))
        return JSONResponse({"error": "; ".join(parts) or "invalid request",
                             "detail": [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]},
                            status_code=422)

    def warm_up(progress: Progress) -> dict[str, Any]:
        from melodygan.engines.harmonize import load_harmonizer
        from melodygan.engines.leadsheet import load_model

        load_model(settings.ar_checkpoint, settings.device)
        load_harmonizer(settings.harmonizer_checkpoint)
        return {}

    def clip_of(clip_id: str) -> Clip:
        try:
            return store.get(clip_id)
        except KeyError:
            raise HTTPException(404, f"no clip {clip_id!r} (clips live only while the studio runs)") from None

    def prerender(clip: Clip) -> None:
        files_pool.submit("render", lambda p: {"wav": str(store.file(clip, "wav"))})

    def finish(kind: str, sheets: list[Piece], pieces: list[Piece], progress: Progress, started: float,
               **fields: Any) -> dict[str, Any]:
        progress.check()
        clips = [store.add(kind, s, p, notes=list(progress.notes), elapsed_s=time.monotonic() - started, **fields)
                 for s, p in zip(sheets, pieces)]
        for c in clips:
            prerender(c)
        return {"clips": [c.to_json() for c in clips]}

    async def start(kind: str, work: Callable[[Progress], dict[str, Any]], wait: float) -> JSONResponse:
        job = runner.submit(kind, work)
        return await answer(job, wait)

    async def answer(job: Job, wait: float) -> JSONResponse:
        if wait > 0 and not job.done_event.is_set():
            await asyncio.get_running_loop().run_in_executor(None, job.done_event.wait, wait)
        body = job.to_json()
        if job.status == "done":
            return JSONResponse(body, status_code=200)
        if job.status == "error" and wait > 0:
            return JSONResponse({"error": job.error, "job": body}, status_code=400)
        if job.status == "cancelled" and wait > 0:
            return JSONResponse({"error": "the job was cancelled", "job": body}, status_code=409)
        return JSONResponse(body, status_code=202 if job.status in ("queued", "running") else 200)

    # --- page --------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"),
                            headers={"Cache-Control": "no-store"})

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(api_page(app.openapi()))

    @app.get("/api/info", summary="What the studio offers: engines, styles, keys, meters, limits")
    async def info() -> dict[str, Any]:
        from melodygan.tokens import METERS

        return {"version": __version__, "engines": ENGINES, "genres": GENRES, "keys": KEY_NAMES,
                "meters": [f"{n}/{d}" for n, d in METERS], "accompaniments": ACCOMPANIMENTS, "basses": BASSES,
                "parts": PARTS, "chord_rates": CHORD_RATES, "harmony_styles": HARMONY_STYLES, "max_bars": MAX_BARS,
                "max_upload_bytes": settings.max_upload_bytes, "upload_suffixes": SCORE_SUFFIXES,
                "checkpoints": {name: str(value) if value else "shipped" for name, value in (
                    ("ar", settings.ar_checkpoint), ("gan", settings.gan_checkpoint),
                    ("harmonizer", settings.harmonizer_checkpoint))}}

    # --- jobs ----------------------------------------------------------------------------------
    @app.post("/api/generate", status_code=202, summary="Generate a lead-sheet clip (melody + chords + arrangement)")
    async def generate_clip(req: GenerateRequest, wait: Wait = 0) -> JSONResponse:
        meter, key = _meter(req.meter), _key(req.key)
        chords = req.chords.strip() if req.chords and req.chords.strip() else None
        if chords:
            from melodygan.engines.generate import parse_progression

            grid = Piece(time_signature=meter)
            parse_progression(chords, req.bars, grid.bar_steps, grid.beat_steps)  # a bad symbol: 400 now

        def work(progress: Progress) -> dict[str, Any]:
            from melodygan.engines.generate import generate

            started = time.monotonic()
            options: dict[str, Any] = {"num": 1, "bars": req.bars, "key": key, "time_signature": meter,
                                       "tempo_bpm": req.tempo_bpm, "seed": req.seed, "temperature": req.temperature,
                                       "device": settings.device, "genre": req.genre}
            two_models = req.engine == "hybrid" or (req.engine == "gan" and not chords)
            if two_models and (settings.ar_checkpoint or settings.gan_checkpoint):
                # the transformer's chords under the GAN's melody (what the library does for these
                # engines), in two calls so that each model can come from its own checkpoint
                progress.step("writing chords with the transformer", 0.05)
                sheet = generate("ar", chords=chords, checkpoint=settings.ar_checkpoint, **options)[0]
                progress.step("writing the melody with the GAN", 0.6)
                options["key"] = sheet.key
                sheet = generate("gan", chords=sheet.chords, checkpoint=settings.gan_checkpoint, **options)[0]
            else:
                progress.step({"ar": "writing melody and chords", "gan": "writing the melody with the GAN",
                               "hybrid": "writing chords, then the GAN's melody"}[req.engine], 0.05)
                checkpoint = settings.gan_checkpoint if req.engine == "gan" else settings.ar_checkpoint
                sheet = generate(req.engine, chords=chords, checkpoint=checkpoint, **options)[0]
            progress.step("arranging", 0.9)
            piece = _arranged(sheet, req.accompaniment, req.bass)
            return finish("generate", [sheet], [piece], progress, started, settings=req.model_dump())

        return await start("generate", work, wait)

    @app.post("/api/upload", status_code=202,
              summary="Upload a melody: MIDI, MusicXML, ABC, kern, or a WAV/FLAC/MP3/OGG recording (transcribed)")
    async def upload(file: Annotated[UploadFile, File(description="the score or recording")],
                     tempo_bpm: Annotated[float | None, Form(description="recordings: the tempo (default: "
                                                                        "estimated)")] = None,
                     melody_track: Annotated[str | None, Form(description="MIDI: the melody's track number (from 0 "
                                                              "as mido counts; 1 = the first part of most files) or "
                                                              "name; notation: part index or name")] = None,
                     wait: Wait = 0) -> JSONResponse:
        name = Path(file.filename or "upload").name[:120]
        suffix = Path(name).suffix.lower()
        if suffix not in SCORE_SUFFIXES:
            raise HTTPException(415, f"{name}: a {suffix or 'file without extension'} is not a score or a recording; "
                                     f"allowed: {' '.join(SCORE_SUFFIXES)}")
        if tempo_bpm is not None and not 10 <= tempo_bpm <= 400:
            raise HTTPException(422, f"tempo_bpm {tempo_bpm} must be 10..400")
        data = await file.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise HTTPException(413, f"{name} is larger than the studio's limit of "
                                     f"{settings.max_upload_bytes / 1e6:.0f} MB")
        if not data:
            raise HTTPException(400, f"{name} is empty")
        why = sniff(suffix, data[:64])
        if why:
            raise HTTPException(415, f"{name}: {why}")
        path = store.upload_path(suffix)
        path.write_bytes(data)
        track: str | int | None = melody_track or None
        if isinstance(track, str) and track.lstrip("-").isdigit():
            track = int(track)

        def work(progress: Progress) -> dict[str, Any]:
            from melodygan.formats.readers import read_score

            started = time.monotonic()
            audio = suffix in AUDIO_SUFFIXES
            progress.step("listening for the notes (pYIN)" if audio else "reading the score", 0.05)
            try:
                piece = read_score(path, track, tempo_bpm=tempo_bpm)
            except MelodyganError as e:
                raise MelodyganError(str(e).replace(str(path), name)) from None
            finally:
                path.unlink(missing_ok=True)
            if not piece.melody and not piece.chords:
                raise MelodyganError(f"{name} has no melody notes")
            piece = piece.replace(title=piece.title or Path(name).stem)
            return finish("upload", [piece], [piece], progress, started,
                          settings={"filename": name, "source": "recording" if audio else "score"})

        return await start("upload", work, wait)

    @app.post("/api/harmonize", status_code=202, summary="Harmonize a clip's melody: new chords and accompaniment")
    async def harmonize_clip(req: HarmonizeRequest, wait: Wait = 0) -> JSONResponse:
        clip = clip_of(req.clip)
        key = _key(req.key)
        if not clip.sheet.melody:
            raise HTTPException(400, "this clip has no melody to harmonize")
        from melodygan.engines.harmonize import parse_fix

        parse_fix(req.fix)

        def work(progress: Progress) -> dict[str, Any]:
            from melodygan.engines.harmonize import harmonize

            started = time.monotonic()
            if req.style == "chorale":
                progress.step("writing alto, tenor and bass under the melody", 0.05)
                sheet = harmonize(clip.sheet.replace(voices={}), key=key, style="chorale", seed=req.seed)
                assert isinstance(sheet, Piece)
                piece = sheet  # the four voices are the arrangement
            else:
                progress.step("choosing chords for the whole melody", 0.05)
                sheet = harmonize(clip.sheet, key=key, genre=req.genre, chord_rate=req.chord_rate, fix=req.fix,
                                  seed=req.seed, checkpoint=settings.harmonizer_checkpoint)
                assert isinstance(sheet, Piece)
                progress.step("arranging", 0.9)
                piece = _arranged(sheet, req.accompaniment, req.bass)
            return finish("harmonize", [sheet], [piece], progress, started, parent=clip.id,
                          settings=req.model_dump())

        return await start("harmonize", work, wait)

    def genre_of(clip: Clip, genre: str | None) -> str:
        if genre:
            return genre
        if clip.settings.get("genre") in GENRES:
            return str(clip.settings["genre"])
        from melodygan.engines.harmonize import guess_genre, load_harmonizer

        return guess_genre(clip.sheet, load_harmonizer(settings.harmonizer_checkpoint)[1])

    def rearranged(clip: Clip, sheet: Piece, gaps: list[tuple[int, int]]) -> Piece:
        """``sheet`` with the clip's accompaniment kept exactly outside ``gaps`` and new inside them."""
        from melodygan.engines.infill import keep_voices_outside

        style = clip.settings.get("accompaniment")
        if style is None or not sheet.chords:
            return sheet
        return keep_voices_outside(clip.piece, _arranged(sheet, style, clip.settings.get("bass", "root")), gaps)

    @app.post("/api/infill", status_code=202,
              summary="Regenerate some bars of a clip (melody, chords or both), keeping every other bar")
    async def infill_clip(req: InfillRequest, wait: Wait = 0) -> JSONResponse:
        from melodygan.engines.infill import parse_bars

        clip = clip_of(req.clip)
        bars = parse_bars(req.bars)
        lowest = 0 if clip.sheet.pickup_steps else 1
        if bars[0] < lowest or bars[1] > clip.sheet.num_bars:
            raise HTTPException(400, f"bars {req.bars} are outside the clip (bars {lowest}-{clip.sheet.num_bars})")
        if req.part == "melody" and not clip.sheet.chords:
            raise HTTPException(400, "this clip has no chords to keep: harmonize it first, or regenerate both")

        def work(progress: Progress) -> dict[str, Any]:
            from melodygan.engines.infill import infill

            started = time.monotonic()
            progress.step("reading the style", 0.02)
            genre = genre_of(clip, req.genre)
            progress.step(f"rewriting bars {bars[0]}-{bars[1]}", 0.05)
            sheet = infill(clip.sheet, bars, req.part, num=1, seed=req.seed, checkpoint=settings.ar_checkpoint,
                           device=settings.device, genre=genre, temperature=req.temperature)[0]
            progress.step("arranging", 0.9)
            return finish("infill", [sheet], [rearranged(clip, sheet, [bars])], progress, started, parent=clip.id,
                          changed_bars=bars, settings={**clip.settings, "infill": req.model_dump()})

        return await start("infill", work, wait)

    @app.post("/api/vary", status_code=202, summary="Variations: same chords with a new melody, or new chords")
    async def vary_clip(req: VaryRequest, wait: Wait = 0) -> JSONResponse:
        clip = clip_of(req.clip)
        if req.keep == "chords" and not clip.sheet.chords:
            raise HTTPException(400, "this clip has no chords to keep: harmonize it first")
        if req.keep == "melody" and not clip.sheet.melody:
            raise HTTPException(400, "this clip has no melody to keep")

        def work(progress: Progress) -> dict[str, Any]:
            from melodygan.engines.harmonize import harmonize
            from melodygan.engines.infill import vary, vary_gaps

            started = time.monotonic()
            progress.step("reading the style", 0.02)
            genre = genre_of(clip, req.genre)
            sheets: list[Piece] = []
            if req.keep == "melody":
                progress.step("choosing new chords", 0.05)
                result = harmonize(clip.sheet, genre=genre, num=req.num + 1, seed=req.seed,
                                   checkpoint=settings.harmonizer_checkpoint)
                results = result if isinstance(result, list) else [result]
                sheets = results[1:] or results  # the first is the best one, most likely the clip's own chords
                gaps = [(1, clip.sheet.num_bars)]
            else:
                gaps = vary_gaps(clip.sheet.num_bars, req.amount)
                for k in range(req.num):
                    progress.step(f"variation {k + 1} of {req.num}", 0.05 + 0.85 * k / req.num)
                    sheets += vary(clip.sheet, num=1, seed=req.seed + 1000 * k, amount=req.amount,
                                   checkpoint=settings.ar_checkpoint, device=settings.device, genre=genre)
            progress.step("arranging", 0.9)
            first = 0 if clip.sheet.pickup_steps else 1
            whole = [(first, clip.sheet.num_bars)]
            pieces = [rearranged(clip, s, whole if req.keep == "melody" else gaps) for s in sheets]
            return finish("vary", sheets, pieces, progress, started, parent=clip.id,
                          settings={**clip.settings, "vary": req.model_dump()})

        return await start("vary", work, wait)

    @app.post("/api/arrange", status_code=202, summary="The same lead sheet with another accompaniment and bass")
    async def arrange_clip(req: ArrangeRequest, wait: Wait = 0) -> JSONResponse:
        clip = clip_of(req.clip)
        if not clip.sheet.chords:
            raise HTTPException(400, "this clip has no chord symbols to arrange: harmonize it first")

        def work(progress: Progress) -> dict[str, Any]:
            started = time.monotonic()
            progress.step("arranging", 0.1)
            sheet = clip.sheet.replace(voices={})
            piece = _arranged(sheet, req.accompaniment, req.bass)
            return finish("arrange", [sheet], [piece], progress, started, parent=clip.id,
                          settings={**clip.settings, "accompaniment": req.accompaniment, "bass": req.bass})

        return await start("arrange", work, wait)

    @app.get("/api/jobs/{job_id}", summary="A job's status, stage, progress and (when done) result")
    async def job_status(job_id: str, wait: PollWait = 0) -> JSONResponse:
        job = runner.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        if wait > 0 and not job.done_event.is_set():
            await asyncio.get_running_loop().run_in_executor(None, job.done_event.wait, wait)
        return JSONResponse(job.to_json())

    @app.delete("/api/jobs/{job_id}", summary="Cancel a job (a model call under way finishes, its result is dropped)")
    async def cancel_job(job_id: str) -> JSONResponse:
        job = runner.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        runner.cancel(job)
        return JSONResponse(job.to_json())

    # --- clips and files ---------------------------------------------------------------------
    @app.get("/api/clips", summary="The clips of this run, newest last (id, kind, key, bars)")
    async def list_clips() -> dict[str, Any]:
        return {"clips": [{"id": c.id, "kind": c.kind, "parent": c.parent, "key": c.piece.key.name,
                           "num_bars": c.piece.num_bars, "title": c.piece.title} for c in list(store.clips.values())]}

    @app.get("/api/clips/{clip_id}", summary="A clip: its notes, chords, meta data and file URLs")
    async def get_clip(clip_id: str) -> dict[str, Any]:
        return clip_of(clip_id).to_json()

    @app.get("/api/clips/{clip_id}/{kind}", summary="A clip as a file: midi, wav or musicxml",
             response_class=FileResponse)
    async def get_file(clip_id: str, kind: str, download: bool = Query(False)) -> FileResponse:
        clip = clip_of(clip_id)
        if kind not in FILE_KINDS:
            raise HTTPException(404, f"no file kind {kind!r}; allowed: {', '.join(FILE_KINDS)}")
        path = await asyncio.get_running_loop().run_in_executor(files_pool.pool, store.file, clip, kind)
        return FileResponse(path, media_type=MEDIA_TYPES[kind], filename=path.name if download else None,
                            content_disposition_type="attachment" if download else "inline",
                            headers={"Cache-Control": "no-store"})

    return app

"""Lead-sheet tokens: the offset table, exact encodings of hand-built bars, round trips."""

from __future__ import annotations

import pytest

from melodygan import tokens as tk
from melodygan.chords import parse_chord_symbol
from melodygan.errors import MelodyganError
from melodygan.keys import Key
from melodygan.notes import Note
from melodygan.piece import Piece


def _piece(**kw: object) -> Piece:
    melody = [Note(0, 4, 64), Note(4, 4, 65), Note(16, 8, 62)]
    chords = [parse_chord_symbol("C", 0, 24), parse_chord_symbol("G7", 24, 8)]
    return Piece(melody=melody, chords=chords, key=Key(0, "major"), **kw)  # type: ignore[arg-type]


def test_offsets_are_contiguous_and_cover_the_vocabulary() -> None:
    end = 0
    for _, offset, size in tk.BLOCKS:
        assert offset == end
        end += size
    assert end == tk.VOCAB_SIZE == 493
    assert [tk.kind(t) for t in (0, 7, 31, 43, 91, 260, 387, 388, 435, 436, 438, 482, 483, 491, 492)] == [
        "special", "key", "meter", "pos", "chord", "pitch", "pitch", "dur", "dur", "genre", "place", "place",
        "form", "form", "start"]
    assert "VOCAB_SIZE = 493" in tk.describe()


def test_leadsheet_order_exact_tokens() -> None:
    names = [tk.token_name(t) for t in tk.encode(_piece())]
    assert names == ["BOS", "TASK_LEADSHEET", "KEY(C)", "METER(4/4)", "GENRE(folk)", "START",
                     "BAR", "PLACE(0,2)", "FORM(NEW)", "POS0", "CHORD(C)", "PITCH64", "DUR4", "POS4", "PITCH65", "DUR4",
                     "BAR", "PLACE(1,1)", "FORM(NEW)", "POS0", "CHORD(C)", "PITCH62", "DUR8", "POS8", "CHORD(G7)",
                     "EOS"]


def test_harmonize_order_puts_each_bar_melody_before_its_chords() -> None:
    names = [tk.token_name(t) for t in tk.encode(_piece(), "harmonize", genre="pop")]
    assert names == ["BOS", "TASK_HARMONIZE", "KEY(C)", "METER(4/4)", "GENRE(pop)", "START",
                     "BAR", "PLACE(0,2)", "FORM(NEW)", "POS0", "PITCH64", "DUR4", "POS4", "PITCH65", "DUR4", "HARM",
                     "POS0", "CHORD(C)",
                     "BAR", "PLACE(1,1)", "FORM(NEW)", "POS0", "PITCH62", "DUR8", "HARM", "POS0", "CHORD(C)", "POS8",
                     "CHORD(G7)", "EOS"]


@pytest.mark.parametrize("task", ["leadsheet", "harmonize"])
def test_round_trip(task: str) -> None:
    p = _piece()
    q = tk.decode(tk.encode(p, task))
    assert q.melody == p.melody
    assert [(c.start_steps, c.duration_steps, c.symbol()) for c in q.chords] == [(0, 24, "C"), (24, 8, "G7")]
    assert q.key == p.key and q.time_signature == (4, 4) and q.end_steps == 32


def test_pickup_is_padded_to_a_whole_bar() -> None:
    p = Piece(melody=[Note(0, 4, 67), Note(4, 12, 72)], chords=[parse_chord_symbol("C", 4, 12)],
              time_signature=(4, 4), pickup_steps=4)
    names = [tk.token_name(t) for t in tk.encode(p)]
    assert names[6:18] == ["BAR", "PLACE(pickup,2)", "FORM(NEW)", "POS12", "PITCH67", "DUR4",
                           "BAR", "PLACE(0,1)", "FORM(NEW)", "POS0", "CHORD(C)", "PITCH72"]
    q = tk.decode(tk.encode(p))
    assert [n.start_steps for n in q.melody] == [12, 16]


def test_compound_meter_and_long_notes_are_cut() -> None:
    p = Piece(melody=[Note(0, 60, 60)], chords=[parse_chord_symbol("Am", 0, 60)], time_signature=(6, 8))
    toks = tk.encode(p)
    assert tk.token_name(toks[3]) == "METER(6/8)"
    assert tk.token_name(toks[12]) == f"DUR{tk.MAX_DURATION}"


def test_unsupported_meter_is_a_user_error() -> None:
    with pytest.raises(MelodyganError, match="5/8"):
        tk.encode(Piece(melody=[Note(0, 2, 60)], time_signature=(5, 8)))


def test_decode_is_tolerant_of_a_cut_sequence() -> None:
    toks = tk.encode(_piece())[:-4]  # ends inside bar 2 after PITCH62
    q = tk.decode(toks)
    assert q.melody == [Note(0, 4, 64), Note(4, 4, 65)]
    assert q.end_steps == 32


def test_form_tokens_point_to_the_bar_repeated_or_whose_rhythm_returns() -> None:
    a = [(0, 60, 4), (4, 62, 4), (8, 64, 8)]
    b = [(0, 67, 16)]
    a_new_pitches = [(0, 65, 4), (4, 64, 4), (8, 62, 8)]
    events = [a, b, a, b, a, [(0, 72, 16)], a_new_pitches, []]
    forms = [tk.token_name(tk.bar_form(events, i)) for i in range(len(events))]
    # bar 4 equals bars 0 and 2: the phrase lag (4) wins; bar 5 has b's rhythm 4 bars back; an empty bar is new
    assert forms == ["FORM(NEW)", "FORM(NEW)", "FORM(REPEAT-2)", "FORM(REPEAT-2)", "FORM(REPEAT-4)",
                     "FORM(RHYTHM-4)", "FORM(RHYTHM-4)", "FORM(NEW)"]
    assert tk.form_of(tk.form_token("rhythm", 8)) == ("rhythm", 8)
    assert tk.form_of(tk.FORM_NEW) == ("new", 0)


def test_place_counts_phrase_bars_and_bars_left() -> None:
    names = [tk.token_name(tk.place_token(b, 11, pickup=True)) for b in range(11)]
    assert names == ["PLACE(pickup,5)", "PLACE(0,5)", "PLACE(1,5)", "PLACE(2,5)", "PLACE(3,5)", "PLACE(4,5)",
                     "PLACE(5,5)", "PLACE(6,4)", "PLACE(7,3)", "PLACE(0,2)", "PLACE(1,1)"]


def test_unknown_genre_is_a_user_error() -> None:
    with pytest.raises(MelodyganError, match="genre"):
        tk.prefix_tokens("leadsheet", Key(0, "major"), (4, 4), "jazz")


def test_only_a_window_from_the_first_bar_starts_with_start() -> None:
    prefix, bars = tk.encode_bars(_piece())
    assert tk.join(prefix, bars, 0)[len(prefix)] == tk.START
    assert tk.join(prefix, bars[1:], 1)[len(prefix)] == tk.BAR
    assert tk.decode(tk.join(prefix, bars, 0)).melody == tk.decode(prefix + [t for b in bars for t in b]).melody

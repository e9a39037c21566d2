"""melodygan studio: a local web app over the library (generate, harmonize, hum, listen, edit bars,
download or drag the MIDI out), served by ``melodygan studio``.

:mod:`melodygan.studio.app` is the ASGI app and its JSON API, :mod:`melodygan.studio.jobs` runs
model work in a thread pool with progress and cancelling, :mod:`melodygan.studio.clips` keeps the
results and their files in a temporary folder, :mod:`melodygan.studio.server` serves it all on
localhost; the page (``static/``) is plain HTML, CSS and JavaScript, nothing from the network.
Needs the ``studio`` extra: ``pip install 'melodygan[studio]'``.
"""

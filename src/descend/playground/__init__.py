"""The playground: descend's own ``minimize`` on the user's formula, live in the browser.

``descend playground`` serves one page (``static/``: hand-written HTML, JavaScript and
CSS, nothing fetched from another host) and the JSON API it calls:

- ``POST /api/run``: runs of :func:`descend.minimize` side by side, every number as it
  returned them (:mod:`.api`);
- ``POST /api/contours``: the objective on a grid, with contour levels;
- ``GET /api/functions`` and ``GET /api/methods``: the test functions and the methods
  with their hyperparameters, to build the page's inputs.

Requests are checked field by field (:mod:`.checks`), objectives are read by
:mod:`.objectives`, and :mod:`.server` holds the Starlette app and ``serve``. It needs the
``playground`` extra (Starlette and uvicorn).
"""

"""The API's documentation page needs nothing but the server: it loads Swagger UI from the
package's own copy (service/static/swagger-ui), which is the published one, unchanged, and
which an installed package ships."""

from __future__ import annotations

import hashlib
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from .conftest import API

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "service"
VENDORED = SERVICE / "static" / "swagger-ui"
#: What a stylesheet and a script may be served as (with nosniff, a browser refuses others).
CSS = {"text/css"}
JAVASCRIPT = {"text/javascript", "application/javascript"}


class _Addresses(HTMLParser):
    """The addresses a page loads or links to (src and href attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def addresses(page: str) -> list[str]:
    """Every src and href of ``page``."""
    parser = _Addresses()
    parser.feed(page)
    return parser.found


def docs_page(client: FlaskClient) -> str:
    """The docs page's HTML."""
    answer = client.get(f"{API}/docs")
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    return answer.get_data(as_text=True)


def test_the_docs_page_loads_swagger_ui_from_the_server_only(client: FlaskClient) -> None:
    page = docs_page(client)
    assert sorted(addresses(page)) == ["/static/swagger-ui/swagger-ui-bundle.js",
                                       "/static/swagger-ui/swagger-ui-standalone-preset.js",
                                       "/static/swagger-ui/swagger-ui.css"]
    assert "://" not in page  # no other outside address either, in the inline script
    assert f'"{API}/openapi.json"' in page


def test_the_docs_page_turns_the_online_validator_off(client: FlaskClient) -> None:
    # Swagger UI would otherwise send the document's address to validator.swagger.io
    assert re.search(r'"validatorUrl":\s*null', docs_page(client))


def test_the_docs_page_assets_are_served_with_their_types(client: FlaskClient) -> None:
    for url in addresses(docs_page(client)):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.mimetype in (CSS if url.endswith(".css") else JAVASCRIPT), url
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.get_data() == (VENDORED / Path(urlsplit(url).path).name).read_bytes()
        answer.close()


def vendored_hashes() -> dict[str, str]:
    """File name -> SHA-256, as VENDORED.md records them."""
    text = (VENDORED / "VENDORED.md").read_text()
    return {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", text, re.M)}


def test_the_vendored_files_are_the_ones_recorded() -> None:
    recorded = vendored_hashes()
    assert {"LICENSE", "NOTICE", "swagger-ui-bundle.js", "swagger-ui.css"} <= set(recorded)
    on_disk = {p.name for p in VENDORED.iterdir()} - {"VENDORED.md"}
    assert on_disk == set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDORED / name).read_bytes()).hexdigest() == digest, name
    assert re.search(r"`swagger-ui-dist` version\s+\*\*5\.\d+\.\d+\*\*",
                     (VENDORED / "VENDORED.md").read_text())


def packaged(patterns: list[str]) -> set[Path]:
    """The files of service/ that package-data globs ship (as setuptools expands them)."""
    return {path for pattern in patterns for path in SERVICE.glob(pattern) if path.is_file()}


def test_an_installed_package_ships_every_static_file_and_template() -> None:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = packaged(settings["tool"]["setuptools"]["package-data"]["service"])
    needed = {p for folder in ("static", "templates") for p in (SERVICE / folder).rglob("*")
              if p.is_file()}
    missing = sorted(str(path.relative_to(SERVICE)) for path in needed - shipped)
    assert needed, "no static files found"
    assert not missing, f"package-data leaves out {missing}"

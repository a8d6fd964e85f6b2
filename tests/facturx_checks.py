"""Independent checks of the e-invoices the tests produce, with the official material and no product code:

- the CII XML against the UN/CEFACT CII D16B XSD (lxml), and against the EN 16931 business rules: the
  European Commission's schematron compiled to XSLT 2.0, run with saxonche (no Java); a failed assert with
  flag="fatal" fails the test with the rule's id and message;
- the PDF/A metadata: every XMP rdf:Description has rdf:about, and the Info dictionary entries have their XMP
  twins with the same value (Title ↔ dc:title, Author ↔ dc:creator, Subject ↔ dc:description,
  Keywords ↔ pdf:Keywords, Producer ↔ pdf:Producer).

The material is read where the project's reference data lives, beside the repository:
`../shared/reference/en16931-cii` (its README asks to use it from there and not to copy it into the project), or
beside the local repository a clone was made from; AMSN_BATCH_EN16931 names another folder. Missing, the checks fail: they are never skipped. `check_outbox(folder)` checks every piece of an outbox once;
BillingWorkspace calls it after each billing command, so every billing test that produces invoices goes
through it.
"""

from __future__ import annotations

import io
import os
import subprocess
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

def _reference() -> Path:
    """The EN 16931 material: AMSN_BATCH_EN16931, else `shared/reference/en16931-cii` beside this repository, or
    beside the local repository this one was cloned from (a clone made elsewhere, e.g. in a temporary folder)."""
    if os.environ.get("AMSN_BATCH_EN16931"):
        return Path(os.environ["AMSN_BATCH_EN16931"])
    repo = Path(__file__).resolve().parent.parent
    places = [repo]
    origin = subprocess.run(["git", "-C", str(repo), "config", "--get", "remote.origin.url"], capture_output=True,
                            text=True, check=False).stdout.strip()
    if origin.startswith("file://"):
        origin = origin[len("file://"):]
    if origin.startswith("/"):  # a local path, not a network remote
        places.append(Path(origin))
    found = [p.resolve().parent / "shared" / "reference" / "en16931-cii" for p in places]
    return next((f for f in found if f.is_dir()), found[0])  # missing: the failure names the expected place


REFERENCE = _reference()
XSD = REFERENCE / "schema" / "D16B SCRDM (Subset)" / "uncoupled clm" / "CII" / "uncefact" / "data" / "standard" / \
    "CrossIndustryInvoice_100pD16B.xsd"
XSLT = REFERENCE / "xslt" / "EN16931-CII-validation.xslt"
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XMP_NS = {"rdf": RDF, "dc": "http://purl.org/dc/elements/1.1/", "pdf": "http://ns.adobe.com/pdf/1.3/",
          "xmp": "http://ns.adobe.com/xap/1.0/", "x": "adobe:ns:meta/"}
_checked: dict[Path, float] = {}


def _material(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"EN 16931 reference material missing: {path} (expected ../shared/reference/en16931-cii beside the "
                    "repository, or set AMSN_BATCH_EN16931)", pytrace=False)
    return str(path)


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(_material(XSD)))


@cache
def _schematron():
    from saxonche import PySaxonProcessor

    proc = PySaxonProcessor(license=False)
    xslt = proc.new_xslt30_processor()
    return proc, xslt.compile_stylesheet(stylesheet_file=_material(XSLT))


def schematron_failures(xml: bytes) -> list[str]:
    """The EN 16931 rules the XML breaks (fatal asserts), as "[BR-…] message"."""
    proc, executable = _schematron()
    node = proc.parse_xml(xml_text=xml.decode("utf-8"))
    svrl = executable.transform_to_string(xdm_node=node)
    report = etree.fromstring(svrl.encode("utf-8"))
    out = []
    for failed in report.iterfind(".//svrl:failed-assert", SVRL):
        if failed.get("flag", "fatal") != "fatal":
            continue
        text = " ".join("".join(failed.find("svrl:text", SVRL).itertext()).split())
        out.append(f"[{failed.get('id')}] {text} (à {failed.get('location')})")
    return out


def check_xml(xml: bytes, name: str = "") -> None:
    """Fails the test unless the XML is valid CII D16B and keeps every EN 16931 rule."""
    doc = etree.fromstring(xml)
    schema = _schema()
    if not schema.validate(doc):
        pytest.fail(f"{name} : XML non conforme au schéma CII D16B : {schema.error_log}")
    failures = schematron_failures(xml)
    if failures:
        pytest.fail(f"{name} : règles EN 16931 non respectées :\n" + "\n".join(failures))


def xmp_of(pdf: bytes) -> etree._Element:
    from pypdf import PdfReader

    data = PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Metadata"].get_object().get_data()
    start, end = data.index(b"<x:xmpmeta"), data.rindex(b"</x:xmpmeta>") + len(b"</x:xmpmeta>")
    return etree.fromstring(data[start:end])


def check_pdf_metadata(pdf: bytes, name: str = "") -> None:
    """Fails the test unless every rdf:Description has rdf:about and each Info entry has its XMP twin."""
    from pypdf import PdfReader

    info = PdfReader(io.BytesIO(pdf)).metadata
    xmp = xmp_of(pdf)
    descriptions = list(xmp.iter(f"{{{RDF}}}Description"))
    assert descriptions, name
    missing = [d for d in descriptions if d.get(f"{{{RDF}}}about") is None]
    assert not missing, f"{name} : {len(missing)} rdf:Description sans rdf:about"

    def one(path: str) -> str:
        found = xmp.xpath(path, namespaces=XMP_NS)
        assert len(found) == 1, (name, path, found)
        return found[0].text or ""

    twins = {"/Title": "//dc:title/rdf:Alt/rdf:li", "/Author": "//dc:creator/rdf:Seq/rdf:li",
             "/Subject": "//dc:description/rdf:Alt/rdf:li", "/Keywords": "//pdf:Keywords",
             "/Producer": "//pdf:Producer"}
    for key, path in twins.items():
        if key in info:
            assert one(path) == str(info[key]), (name, key)
    assert "/Keywords" in info, name


def check_outbox(outbox: Path) -> int:
    """Check every Factur-X piece (its XML beside the PDF, the XML embedded in the PDF, the PDF metadata)
    written or rewritten since the last call. Returns how many were checked."""
    import facturx

    n = 0
    for pdf_path in sorted(outbox.glob("*/factures/*.pdf")):
        stamp = pdf_path.stat().st_mtime_ns
        if _checked.get(pdf_path) == stamp:
            continue
        pdf = pdf_path.read_bytes()
        _, embedded = facturx.get_xml_from_pdf(pdf, check_xsd=False)
        check_xml(embedded, pdf_path.name)
        beside = pdf_path.with_suffix(".xml")
        if beside.is_file():
            assert beside.read_bytes() == embedded, pdf_path.name
        check_pdf_metadata(pdf, pdf_path.name)
        _checked[pdf_path] = stamp
        n += 1
    return n

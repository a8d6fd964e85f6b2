"""Documents of an invoice and its credit note: the Factur-X XML checked against the EN 16931 XSD by the
`factur-x` package, the PDF/A-3 that carries it, and the French mentions a person reads in the PDF."""

from __future__ import annotations

import datetime as dt
import io
import random

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from tests.billing_helpers import BILLING_CONFIG, ISSUER_SIREN, billing_workspace, employees_file, late_declaration
from tests.factories import employee_row, make_nir

NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
      "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
      "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"}


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    """A facture d'office of 6 workers on 01/02/2026, cancelled by a credit note on 23/02/2026."""
    cfg = BILLING_CONFIG.replace("premier_numero = 420930", "premier_numero = 420930\ntva_sur_debits = true")
    ws = billing_workspace(tmp_path_factory.mktemp("fx"), config=cfg)
    rng = random.Random(8)
    s = ws.registry.members["10004"][0]
    employees_file(ws, "10004", "salaries.csv", [employee_row(make_nir(rng), s, name=f"N{i}") for i in range(6)])
    ws.cli("traiter")
    late_declaration(ws, "10004", "01/02/2026", dt.datetime(2026, 2, 20, 9), "23/02/2026", si=6)
    folder = ws.outbox / "10004" / "factures"
    return ws, {n: (folder / n).read_bytes() for n in ("facture-420930.pdf", "avoir-420931.pdf", "facture-420932.pdf",
                                                       "facture-420930.xml", "avoir-420931.xml")}


def _xml(pdf: bytes) -> etree._Element:
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert name == "factur-x.xml"
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    return etree.fromstring(xml)


def _one(tree, path: str) -> str:
    found = tree.xpath(path, namespaces=NS)
    assert len(found) == 1, (path, found)
    return found[0].text if hasattr(found[0], "text") else str(found[0])


def test_invoice_xml_is_en16931_with_the_2026_mentions(docs):
    ws, files = docs
    tree = _xml(files["facture-420930.pdf"])
    assert facturx.get_level(tree) == "en16931"
    assert _one(tree, "//rsm:ExchangedDocument/ram:ID") == "420930"
    assert _one(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert _one(tree, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == "20260201"
    # category of operation (services), both SIRENs, the VAT-on-debits option (BT-8 = 5)
    assert _one(tree, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == "S1"
    assert _one(tree, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0002']") == ISSUER_SIREN
    buyer_siren = ws.registry.members["10004"][0][:9]
    assert _one(tree, "//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0002']") == buyer_siren
    assert _one(tree, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == ws.registry.vat["10004"]
    assert _one(tree, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:DueDateTypeCode") == "5"
    notes = [n.text for n in tree.xpath("//ram:IncludedNote/ram:Content", namespaces=NS)]
    assert "Option pour le paiement de la taxe d'après les débits." in notes
    assert any("Prestation de services" in n for n in notes)
    # amounts, and the arithmetic EN 16931 checks (BR-CO-10, -13, -15)
    lines = [float(x.text) for x in tree.xpath("//ram:LineTotalAmount", namespaces=NS)]
    s = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert _one(tree, s + "LineTotalAmount") == "694.80" == f"{sum(lines[:-1]):.2f}"
    assert _one(tree, s + "TaxBasisTotalAmount") == "694.80"
    assert _one(tree, s + "TaxTotalAmount") == "138.96"
    assert _one(tree, s + "GrandTotalAmount") == "833.76"
    assert _one(tree, s + "DuePayableAmount") == "833.76"
    assert _one(tree, "//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString") == "20260303"
    assert _one(tree, "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID").startswith("FR76")
    # the XML written beside the PDF is the same
    assert etree.tostring(etree.fromstring(files["facture-420930.xml"])) == etree.tostring(tree)


def test_credit_note_is_type_381_citing_the_invoice(docs):
    _, files = docs
    tree = _xml(files["avoir-420931.pdf"])
    assert _one(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert _one(tree, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == "420930"
    assert _one(tree, "//ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString") == "20260201"
    assert _one(tree, "//ram:GrandTotalAmount") == "833.76"  # positive: the type says it is a credit
    assert facturx.xml_check_xsd(files["avoir-420931.xml"], flavor="factur-x", level="en16931")


def test_pdf_is_pdf_a_3_with_the_xml_attached(docs):
    _, files = docs
    reader = PdfReader(io.BytesIO(files["facture-420930.pdf"]))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert "<pdfaid:part>3</pdfaid:part>" in xmp and "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp
    intents = root["/OutputIntents"]
    assert intents[0].get_object()["/S"] == "/GTS_PDFA1"
    assert intents[0].get_object()["/DestOutputProfile"].get_object().get_data()[:4] != b""
    spec = root["/AF"][0].get_object()
    assert spec["/AFRelationship"] == "/Data" and spec["/F"] == "factur-x.xml"
    fonts = [f.get_object() for page in reader.pages for f in page["/Resources"]["/Font"].values()]
    assert fonts and all("/FontFile2" in f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
                         for f in fonts)


def test_pdf_carries_the_french_legal_mentions(docs):
    ws, files = docs
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(files["facture-420930.pdf"])).pages)
    text = " ".join(text.split())
    for mention in ("FACTURE D'OFFICE N° 420930", "Date d'émission : 01/02/2026", f"SIREN : {ISSUER_SIREN}",
                    f"SIREN : {ws.registry.members['10004'][0][:9]}", f"N° TVA intracommunautaire : {ws.registry.vat['10004']}",
                    "Catégorie de l'opération : Prestation de services", "Option pour le paiement de la taxe d'après les débits",
                    "Total HT 694,80 €", "TVA 20 % 138,96 €", "Total TTC 833,76 €", "03/03/2026",
                    "pénalités au taux annuel de 12,15 %", "40 €", "Pas d'escompte",
                    "Période : Année 2026"):
        assert mention in text, mention
    credit = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(files["avoir-420931.pdf"])).pages).split())
    assert "AVOIR N° 420931" in credit
    assert "Avoir sur la facture n° 420930 du 01/02/2026" in credit
    assert "Total TTC -833,76 €" in credit


def test_documents_are_written_again_when_missing(docs):
    ws, _ = docs
    pdf = ws.outbox / "10004" / "factures" / "facture-420932.pdf"
    pdf.unlink()
    out = ws.cli("echeanciers", "--adherent", "10004").stdout
    assert pdf.is_file() and "fichier(s) écrit(s)" in out
    _xml(pdf.read_bytes())

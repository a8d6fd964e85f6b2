"""Factur-X: the CII XML of an invoice or credit note (EN 16931 profile), and the PDF/A-3 that carries it.

The XML is written here with lxml; the `factur-x` package checks it against the official XSD and embeds it
in the PDF (associated file `factur-x.xml`, XMP metadata of the Factur-X extension schema). The PDF it is
embedded in must already be PDF/A-3 (fonts embedded, sRGB output intent): documents.py makes it so.

Mapping of the French 2026 mentions: SIREN of both parties in SpecifiedLegalOrganization (scheme 0002),
category of operation in the business process (BT-23, "S1": services) and a note, the option for VAT on
debits in the VAT point date code (BT-8: 5 on issue, i.e. débits; 72 on payment, i.e. encaissements).
A credit note is type 381 and cites the invoice it cancels (BT-25, BT-26); its amounts are positive, as
the type says it is a credit.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from lxml import etree

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
EN16931 = "urn:cen.eu:en16931:2017"
INVOICE, CREDIT_NOTE = "380", "381"
SERVICES = "S1"  # French CTC business process: invoice for services


def _q(tag: str) -> str:
    prefix, name = tag.split(":")
    return f"{{{NS[prefix]}}}{name}"


def _el(parent, tag: str, text: str | None = None, **attrs):
    e = etree.SubElement(parent, _q(tag), **attrs)
    if text is not None:
        e.text = text
    return e


def _amount(value: Decimal) -> str:
    return f"{abs(value):.2f}"


def _price(value: Decimal) -> str:
    """An item net price (BT-146) with all its decimals (at least 2): the line amount is computed from it."""
    exact = abs(value).normalize()
    return f"{exact:f}" if exact.as_tuple().exponent < -2 else f"{abs(value):.2f}"


def _date(parent, tag: str, day: dt.date, qualified: bool = False) -> None:
    wrapper = _el(parent, tag)
    _el(wrapper, "qdt:DateTimeString" if qualified else "udt:DateTimeString", day.strftime("%Y%m%d"), format="102")


def _party(parent, tag: str, p: dict) -> None:
    party = _el(parent, tag)
    _el(party, "ram:Name", p["name"])
    if p.get("siren"):
        org = _el(party, "ram:SpecifiedLegalOrganization")
        _el(org, "ram:ID", p["siren"], schemeID="0002")
    addr = _el(party, "ram:PostalTradeAddress")
    if p.get("postcode"):
        _el(addr, "ram:PostcodeCode", p["postcode"])
    if p.get("address"):
        _el(addr, "ram:LineOne", p["address"])
    if p.get("city"):
        _el(addr, "ram:CityName", p["city"])
    _el(addr, "ram:CountryID", "FR")
    if p.get("email"):
        uri = _el(party, "ram:URIUniversalCommunication")
        _el(uri, "ram:URIID", p["email"], schemeID="EM")
    if p.get("vat"):
        reg = _el(party, "ram:SpecifiedTaxRegistration")
        _el(reg, "ram:ID", p["vat"], schemeID="VA")


def build_xml(doc) -> bytes:
    """The CII XML of a piece (documents.PieceDoc)."""
    credit = doc.invoice.type == "avoir"
    root = etree.Element(_q("rsm:CrossIndustryInvoice"), nsmap=NS)
    ctx = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(ctx, "ram:BusinessProcessSpecifiedDocumentContextParameter"), "ram:ID", SERVICES)
    _el(_el(ctx, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", EN16931)

    head = _el(root, "rsm:ExchangedDocument")
    _el(head, "ram:ID", doc.invoice.numero)
    _el(head, "ram:TypeCode", CREDIT_NOTE if credit else INVOICE)
    _date(head, "ram:IssueDateTime", doc.invoice.date_emission)
    for subject, text in doc.notes():
        note = _el(head, "ram:IncludedNote")
        _el(note, "ram:Content", text)
        _el(note, "ram:SubjectCode", subject)

    trade = _el(root, "rsm:SupplyChainTradeTransaction")
    for line in doc.lines:
        item = _el(trade, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(line.rang))
        _el(_el(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.label)
        agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
        _el(_el(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", _price(line.unit_price))
        _el(_el(item, "ram:SpecifiedLineTradeDelivery"), "ram:BilledQuantity", str(abs(line.quantity)), unitCode="C62")
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:TypeCode", "VAT")
        _el(tax, "ram:CategoryCode", "S")
        _el(tax, "ram:RateApplicablePercent", f"{doc.invoice.taux_tva:.2f}")
        _el(_el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation"), "ram:LineTotalAmount", _amount(line.amount))

    agreement = _el(trade, "ram:ApplicableHeaderTradeAgreement")
    _el(agreement, "ram:BuyerReference", doc.invoice.adherent)
    _party(agreement, "ram:SellerTradeParty", doc.invoice.emetteur)
    _party(agreement, "ram:BuyerTradeParty", doc.invoice.client)
    _el(trade, "ram:ApplicableHeaderTradeDelivery")

    settle = _el(trade, "ram:ApplicableHeaderTradeSettlement")
    _el(settle, "ram:PaymentReference", doc.invoice.numero)
    _el(settle, "ram:InvoiceCurrencyCode", "EUR")
    if doc.invoice.emetteur.get("iban") and not credit:
        means = _el(settle, "ram:SpecifiedTradeSettlementPaymentMeans")
        _el(means, "ram:TypeCode", "58")  # SEPA credit transfer
        _el(_el(means, "ram:PayeePartyCreditorFinancialAccount"), "ram:IBANID", doc.invoice.emetteur["iban"].replace(" ", ""))
    tax = _el(settle, "ram:ApplicableTradeTax")
    _el(tax, "ram:CalculatedAmount", _amount(doc.invoice.total_tva))
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:BasisAmount", _amount(doc.invoice.total_ht))
    _el(tax, "ram:CategoryCode", "S")
    _el(tax, "ram:DueDateTypeCode", "5" if doc.vat_on_debits else "72")
    _el(tax, "ram:RateApplicablePercent", f"{doc.invoice.taux_tva:.2f}")
    period = _el(settle, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", doc.period_start)
    _date(period, "ram:EndDateTime", doc.period_end)
    terms = _el(settle, "ram:SpecifiedTradePaymentTerms")
    _el(terms, "ram:Description", doc.terms_text())
    if not credit:
        _date(terms, "ram:DueDateDateTime", doc.echeances[0].due)
    sums = _el(settle, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(sums, "ram:LineTotalAmount", _amount(doc.invoice.total_ht))
    _el(sums, "ram:TaxBasisTotalAmount", _amount(doc.invoice.total_ht))
    _el(sums, "ram:TaxTotalAmount", _amount(doc.invoice.total_tva), currencyID="EUR")
    _el(sums, "ram:GrandTotalAmount", _amount(doc.invoice.total_ttc))
    _el(sums, "ram:DuePayableAmount", _amount(doc.invoice.total_ttc))
    if doc.invoice.origine_numero:
        ref = _el(settle, "ram:InvoiceReferencedDocument")
        _el(ref, "ram:IssuerAssignedID", doc.invoice.origine_numero)
        _date(ref, "ram:FormattedIssueDateTime", doc.invoice.origine_date, qualified=True)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


KEYWORDS = "Factur-X, facture"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XMP_NS = {"rdf": RDF, "pdf": "http://ns.adobe.com/pdf/1.3/", "xmp": "http://ns.adobe.com/xap/1.0/"}


def embed(pdf: bytes, xml: bytes, doc) -> bytes:
    """The Factur-X PDF: the XML checked against the EN 16931 XSD and embedded in the PDF/A-3, its metadata
    completed (see `complete_metadata`)."""
    from facturx import generate_from_binary

    out = generate_from_binary(
        pdf, xml, flavor="factur-x", level="en16931", check_xsd=True, lang="fr-FR",
        pdf_metadata={
            "author": doc.invoice.emetteur["name"],
            "keywords": KEYWORDS,
            "title": f"{doc.type_label} n° {doc.invoice.numero}",
            "subject": f"{doc.type_label} n° {doc.invoice.numero} du {doc.invoice.date_emission:%d/%m/%Y} — adhérent {doc.invoice.adherent}",
        },
    )
    return complete_metadata(out, dt.datetime.combine(doc.invoice.date_emission, dt.time(12), tzinfo=dt.timezone.utc))


def complete_metadata(pdf: bytes, stamp: dt.datetime) -> bytes:
    """What the factur-x package leaves out of the XMP for PDF/A (ISO 19005-3 §6.6.2.1, XMP 2004): every
    rdf:Description gets `rdf:about=""`; the Info /Keywords gets its XMP twin pdf:Keywords, and the Info
    /Producer and dates are made the same as the XMP's (pdf:Producer, xmp:CreateDate, xmp:ModifyDate), dated
    from the piece (`stamp`) rather than the clock, so the same piece always gives the same metadata."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    ref = writer._root_object.raw_get("/Metadata")
    packet = ref.get_object().get_data()
    start, end = packet.index(b"<x:xmpmeta"), packet.rindex(b"</x:xmpmeta>") + len(b"</x:xmpmeta>")
    root = etree.fromstring(packet[start:end])
    xmp_stamp = stamp.isoformat(timespec="seconds")
    producer = ""
    for desc in root.iter(f"{{{RDF}}}Description"):
        desc.set(f"{{{RDF}}}about", "")
        for name in ("CreateDate", "ModifyDate"):
            for date in desc.findall(f"xmp:{name}", XMP_NS):
                date.text = xmp_stamp
        found = desc.find("pdf:Producer", XMP_NS)
        if found is not None:
            producer = found.text or ""
            etree.SubElement(desc, f"{{{XMP_NS['pdf']}}}Keywords").text = KEYWORDS
    stream = DecodedStreamObject()
    stream.update({NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")})
    stream.set_data(packet[:start] + etree.tostring(root, encoding="UTF-8") + packet[end:])
    writer._replace_object(ref, stream.flate_encode())
    pdf_stamp = stamp.strftime("D:%Y%m%d%H%M%S+00'00'")
    writer.add_metadata({"/Keywords": KEYWORDS, "/Producer": producer, "/CreationDate": pdf_stamp, "/ModDate": pdf_stamp})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()

"""The UPL catalogue of a tenant: the default department template, the default mapping and the import."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import insert
from sqlmodel import Session, select

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import upl
from services.common.errors import failed_precondition, invalid_argument
from services.common.upl import read_upl_csv as read_upl_csv  # bench/route_contacts.py reads it here
from services.common.upl import slug as slug  # (as above)
from services.tenancy.models import DepartmentRow, ProductRow, utcnow

# (id, display name): the default vakafdelingen of a new gemeente; `algemeen` is the fallback.
DEFAULT_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("burgerzaken", "Burgerzaken"),
    ("belastingen", "Belastingen"),
    ("afval-openbare-ruimte", "Afval en Openbare ruimte"),
    ("wonen-vergunningen", "Wonen en Vergunningen"),
    ("werk-inkomen", "Werk en Inkomen"),
    ("zorg-wmo", "Zorg en Wmo"),
    ("jeugd-onderwijs", "Jeugd en Onderwijs"),
    ("veiligheid", "Openbare orde en Veiligheid"),
    ("economie-cultuur-sport", "Economie, Cultuur en Sport"),
    ("algemeen", "Algemene zaken"),
)
FALLBACK_DEPARTMENT = "algemeen"
# (department, pattern) on the lower-case UPL product name; the first match wins, so exceptions
# come first. Every one of the 450 gemeente products lands somewhere sensible; `kcc tenancy
# mapping` prints the distribution.
DEPARTMENT_RULES: tuple[tuple[str, str], ...] = (
    # Exceptions first: names whose words would otherwise mislead the rules below.
    ("burgerzaken", r"^upl-naam nog niet beschikbaar$|rijbewijs"),
    ("algemeen", r"^(bezwaar|beroep|klacht|zienswijze|verzoekschrift|rectificatie|mededelingen|meldpunt algemeen)$"),
    ("afval-openbare-ruimte", r"blindengeleidehond|gladheid|straatnaamgeving|huisnummertoekenning"),
    (
        "wonen-vergunningen",
        r"bestemmingsplan|bouwwerk|omgevingsvergunning|welstand|vooroverleg|planschade"
        r"|voorkeursrecht|voorbereidingsbesluit|bag inzage|kadastrale|woning zoeken|huurtoeslag|verhuurdersverklaring"
        r"|vrijkomen woonruimte"
        r"|blijverslening|starterslening|duurzaamheidslening|funderingsherstel|onderhoudsplan vve|woonconsumenten"
        r"|woonkostentoeslag|asbest|bodem|olietank|wet milieubeheer|gebruiksmelding|puinbreker|brandveilig"
        r"|erfpacht|onroerendezaak huur|groenstroken|bouwgrond|grondexploitatie|woonwagen|monument"
        r"|woningen samenvoeg|milieuvriendelijk bouw",
    ),
    (
        "veiligheid",
        r"vuurwerk|carbid|handhaving|gedoog|huisverbod|gebiedsverbod|inbewaringstelling|crisis|ramp"
        r"|calamiteit"
        r"|alarmsirene|brandbeheersing|risicokaart|ongewoon voorval|betoging|nachtregister|opkopersregister|wapen"
        r"|integriteitsbeoordeling|aanschrijving|wegsleep|dierziekte|besmetting|epidemiologie|luchtvaartterrein"
        r"|gevaarlijke stoffen|seksbedrijf|kansspel|speelautoma",
    ),
    # Taxes and charges; `ontheffing` contains `heffing`, so only a whole-word heffing counts.
    (
        "belastingen",
        r"belasting|\bwoz\b|woz-|(?<!ont)heffing|kwijtschelding|\bleges\b|precario|reinigingsrecht"
        r"|marktgelden|biz-bijdrage|incasso|aanslag",
    ),
    (
        "jeugd-onderwijs",
        r"jeugd|leerling|leerplicht|school|onderwijs|kinderopvang|kindercentrum|kinderdagverblijf"
        r"|peuter|dyslexie|studietoeslag|studiefinanciering|opvoeding|volwasseneneducatie|speelvoorziening",
    ),
    (
        "zorg-wmo",
        r"wmo|zorg|mantel|huishoudelijke hulp|rolstoel|scootmobiel|vervoer|gehandicapt|schuldhulp|wsnp"
        r"|beschermd|maatschappelijk|woningaanpassing|hulpmiddel|tillift|meubelaanpassing|auto-aanpassing|dagbesteding"
        r"|dagverzorging|boodschappenhulp|maaltijdservice|personenalarmering|persoonsgebonden budget|logeerhuis"
        r"|vrouwenopvang|regiotaxi|taxivergoeding|valys|ov-begeleiderskaart|ziekenbezoek|woonsubsidie ouderen"
        r"|woonvoorziening|aanleunwoning|seniorenwoning|gezondheid|tolk|wlz|voedselbank|ziektekosten|palliatie",
    ),
    (
        "werk-inkomen",
        r"bijstand|uitkering|inkomen|re-integratie|participatie|minima|\bioaw|\bioaz|\bbbz\b"
        r"|inburgering|beschut werk|begeleid werken|werkvoorziening|werkzoekenden|werklozen|werkplekaanpassing"
        r"|loonkosten|loonsuppletie|stadspas|tegenprestatie|rechtmatigheid|rechtshulp|garantverklaring"
        r"|verblijfsgerechtigden|molukkers|vrijwilligersverzekering",
    ),
    (
        "burgerzaken",
        r"paspoort|identiteitskaart|rijbewijs|verhuis|\bbrp|uittreksel|geboorte|huwelijk|partnerschap"
        r"|overlijden|naturalisatie|nationaliteit|nederlanderschap|naamwijziging|naamgebruik|naamskeuze"
        r"|verklaring omtrent"
        r"|adres|\brni\b|erkenning kind|burgerservicenummer|reisdocument|legalisatie|kiezer|stem(men|pas)|verkiezing"
        r"|volmacht|begraaf|begraven|crematie|cremeren|graf|asverstrooiing|stoffelijk overschot|doodgeboren|adoptie"
        r"|burgerlijke stand|echtscheiding|geslachtswijziging|vaderschap|in leven zijn|onder eed|trouwlocatie"
        r"|digid|eherkenning|toeristenvisum|referendum|politiekegroepering|burgerinitiatief|koninklijk|hofleverancier"
        r"|onderscheiding|gevonden of verloren",
    ),
    (
        "economie-cultuur-sport",
        r"subsidie|ondernem|starterskrediet|bedrijfsterrein|bedrijfsverzamelgebouw|koopzondag"
        r"|winkeltijden|sport|museum|kunst|omroep|toerisme|markt|standplaats|venten|ventvergunning|collecte|horeca"
        r"|terras|evenement|festiviteit|energieaudit|bedrijf aan huis|alcohol|drankverkoop|volkstuin"
        r"|gemeentelijke panden"
        r"|uitlening gemeentelijke",
    ),
    (
        "afval-openbare-ruimte",
        r"afval|container|vuil|riool|boom|groen|openbare ruimte|openbare weg|straat|lantaarn"
        r"|verlichting|ongedierte|onkruid|zwerf|graffiti|parkeer|verkeer|speelplaats|hond|\bkap\b|bladkorf|compostvat"
        r"|antireclame|dieren|dode-gezelschapsdier|infrastructuur|laadpaal|kabels|leidingen|hoogspanning|havenverordening"
        r"|ligplaats|vaarvergunning|objectvergunning|uitweg|schademelding|aansprakelijk|luchtkwaliteit|inzamelaar"
        r"|natuur|landschap|bijenhoud|uitvlieg|stookontheffing|plantsoenen|natuurgebied|ontgronding|watervergunning"
        r"|visvergunning",
    ),
    (
        "wonen-vergunningen",
        r"vergunning|ontheffing|bouw|omgeving|woning|woonruimte|huisvesting|monument|erfgoed"
        r"|exploitatie|sloop|splitsing|kamerverhuur|woonwagen|urgentie|woonomgeving|melding",
    ),
)
_RULES = tuple((department, re.compile(pattern)) for department, pattern in DEPARTMENT_RULES)


def default_department_for(product_name: str) -> str:
    name = product_name.lower()
    for department, pattern in _RULES:
        if pattern.search(name):
            return department
    return FALLBACK_DEPARTMENT


def import_upl_rows(
    session: Session, tenant: str, rows: Sequence[pb.UplRow], default_department: str = ""
) -> tuple[int, int, int]:
    """Adds new products and renames changed ones; keeps each tenant's own department and synonyms.

    A new product goes to the department the default mapping names; where the mapping does not
    place it (or the tenant lacks that department) to `default_department`, else the fallback.
    """
    for i, row in enumerate(rows):
        problem = upl.row_problem(row.name, row.uri)
        if problem:
            raise invalid_argument(f"rows[{i}].{problem[0]}", f"line {row.line}: {problem[1]}")
    existing = {p.id: p for p in session.exec(select(ProductRow).where(ProductRow.tenant == tenant))}
    departments = {d.id: d for d in session.exec(select(DepartmentRow).where(DepartmentRow.tenant == tenant))}
    fallback = next((d.id for d in departments.values() if d.fallback), "")

    def place(name: str) -> str:
        department = default_department_for(name)
        if department in departments and department != FALLBACK_DEPARTMENT:
            return department
        if default_department:
            if default_department not in departments:
                raise failed_precondition(
                    "DEPARTMENT_NOT_FOUND", f"tenants/{tenant}/departments/{default_department} does not exist"
                )
            return default_department
        if department in departments:
            return department
        if fallback:
            return fallback
        raise failed_precondition(
            "DEPARTMENT_NOT_FOUND", f"tenants/{tenant} has no department {department!r} and no fallback department"
        )

    created = updated = unchanged = 0
    seen: set[str] = set()
    new: list[dict[str, object]] = []
    now = utcnow()
    for row in rows:
        product_id = upl.slug(row.uri)
        if product_id in seen:
            continue
        seen.add(product_id)
        current = existing.get(product_id)
        if current is None:
            new.append(
                {
                    "tenant": tenant,
                    "id": product_id,
                    "upl_uri": row.uri,
                    "display_name": row.name.strip(),
                    "department": place(row.name),
                    "handling": "CALLBACK",
                    "synonyms": "[]",
                    "ivr_codes": "[]",
                    "enabled": True,
                    "update_time": now,
                }
            )
            created += 1
        elif current.display_name != row.name.strip() or current.upl_uri != row.uri:
            current.display_name, current.upl_uri, current.update_time = row.name.strip(), row.uri, utcnow()
            session.add(current)
            updated += 1
        else:
            unchanged += 1
    if new:
        # One multi-row INSERT in the caller's transaction: onboarding 342 gemeenten x 450
        # products spends its time here, and the ORM unit of work is several times slower.
        session.flush()
        session.connection().execute(insert(ProductRow.__table__), new)  # type: ignore[attr-defined]
    return created, updated, unchanged


def mapping_distribution(products: Iterable[upl.UplProduct]) -> dict[str, int]:
    """How many products the default mapping places in each default department (all listed)."""
    counts = {department: 0 for department, _name in DEFAULT_DEPARTMENTS}
    for product in products:
        department = default_department_for(product.name)
        counts[department] = counts.get(department, 0) + 1
    return counts


def upl_rows(products: Iterable[upl.UplProduct]) -> list[pb.UplRow]:
    return [pb.UplRow(line=p.line, name=p.name, uri=p.uri) for p in products]

"""The vocabulary of the demo data: Polish places, names, company names and leased assets.

Plain tables, no randomness: `services.seeder.world` draws from them with a seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True)
class City:
    name: str
    postcodes: tuple[str, ...]
    """Patterns of the city's postal codes; # is any digit."""
    tax_offices: tuple[str, ...]
    """First three digits of NIPs issued by the city's tax offices."""
    plates: tuple[str, ...]
    """District codes of number plates registered there."""
    weight: int


CITIES: tuple[City, ...] = (
    City(
        "Warszawa",
        ("00-###", "01-###", "02-###", "03-###", "04-###"),
        ("521", "522", "525", "526", "527", "113", "118", "951"),
        ("WA", "WB", "WD", "WE", "WF", "WH", "WI", "WJ", "WK", "WN", "WT", "WU", "WW", "WX", "WY"),
        18,
    ),
    City("Kraków", ("30-###", "31-###"), ("676", "677", "678", "679", "944", "945"), ("KR", "KK"), 8),
    City(
        "Łódź",
        ("90-###", "91-###", "92-###", "93-###", "94-###"),
        ("725", "726", "727", "728", "729", "947"),
        ("EL",),
        6,
    ),
    City(
        "Wrocław",
        ("50-###", "51-###", "52-###", "53-###", "54-###"),
        ("894", "895", "896", "897", "898", "899"),
        ("DW", "DX"),
        7,
    ),
    City("Poznań", ("60-###", "61-###"), ("778", "779", "781", "782", "783", "972"), ("PO", "PY"), 7),
    City("Gdańsk", ("80-###",), ("583", "584", "957"), ("GD",), 5),
    City("Gdynia", ("81-###",), ("586",), ("GA",), 2),
    City("Szczecin", ("70-###", "71-###"), ("851", "852", "955"), ("ZS",), 4),
    City("Bydgoszcz", ("85-###",), ("554", "953"), ("CB",), 3),
    City("Toruń", ("87-1##",), ("879", "956"), ("CT",), 2),
    City("Lublin", ("20-###",), ("712", "713", "946"), ("LU",), 3),
    City("Białystok", ("15-###",), ("542", "966"), ("BI",), 3),
    City("Katowice", ("40-###",), ("634", "954"), ("SK",), 5),
    City("Gliwice", ("44-1##",), ("631", "969"), ("SG",), 2),
    City("Częstochowa", ("42-2##",), ("573", "949"), ("SC",), 2),
    City("Bielsko-Biała", ("43-3##",), ("547", "937"), ("SB",), 2),
    City("Rzeszów", ("35-###",), ("813", "517"), ("RZ",), 3),
    City("Kielce", ("25-###",), ("657", "959"), ("TK",), 2),
    City("Olsztyn", ("10-###",), ("739",), ("NO",), 2),
    City("Opole", ("45-###",), ("754",), ("OP",), 2),
    City("Zielona Góra", ("65-###",), ("929", "973"), ("FZ",), 1),
    City("Radom", ("26-6##",), ("796", "948"), ("WR",), 2),
    City("Płock", ("09-4##",), ("774",), ("WP",), 1),
    City("Kalisz", ("62-8##",), ("618",), ("PK",), 1),
    City("Tarnów", ("33-1##",), ("873", "993"), ("KT",), 1),
    City("Nowy Sącz", ("33-3##",), ("734",), ("KN",), 1),
    City("Koszalin", ("75-###",), ("669",), ("ZK",), 1),
    City("Elbląg", ("82-3##",), ("578",), ("NE",), 1),
    City("Siedlce", ("08-1##",), ("821",), ("WS",), 1),
)

STREETS: tuple[str, ...] = (
    "ul. Przemysłowa", "ul. Fabryczna", "ul. Składowa", "ul. Magazynowa", "ul. Logistyczna",
    "ul. Transportowa", "ul. Handlowa", "ul. Polna", "ul. Leśna", "ul. Słoneczna", "ul. Krótka",
    "ul. Szkolna", "ul. Ogrodowa", "ul. Lipowa", "ul. Brzozowa", "ul. Łąkowa", "ul. Kwiatowa",
    "ul. Kościuszki", "ul. Mickiewicza", "ul. Sienkiewicza", "ul. Piłsudskiego", "ul. Kolejowa",
    "ul. Długa", "al. Wojska Polskiego", "ul. 3 Maja", "al. Jana Pawła II", "ul. Słowackiego",
    "ul. Żeromskiego", "ul. Reymonta", "ul. Konopnickiej", "ul. Kopernika", "ul. Chopina",
    "ul. Grunwaldzka", "ul. Zielona", "ul. Parkowa", "ul. Poznańska", "ul. Warszawska",
    "ul. Krakowska", "ul. Gdańska", "ul. Toruńska", "ul. Spedycyjna", "ul. Rzemieślnicza",
    "ul. Okrężna", "ul. Żwirki i Wigury", "ul. Świętokrzyska", "ul. Hutnicza", "ul. Stalowa",
)  # fmt: skip

MALE_FIRST: tuple[str, ...] = (
    "Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Marcin", "Michał", "Jan", "Marek", "Grzegorz",
    "Adam", "Łukasz", "Zbigniew", "Jerzy", "Tadeusz", "Mateusz", "Dariusz", "Mariusz", "Wojciech",
    "Ryszard", "Jakub", "Henryk", "Robert", "Rafał", "Kazimierz", "Jacek", "Maciej", "Kamil",
    "Sławomir", "Przemysław", "Artur", "Damian", "Sebastian", "Bartosz", "Dawid", "Szymon",
)  # fmt: skip
FEMALE_FIRST: tuple[str, ...] = (
    "Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Krystyna", "Elżbieta",
    "Magdalena", "Joanna", "Aleksandra", "Monika", "Zofia", "Danuta", "Teresa", "Natalia", "Karolina",
    "Beata", "Dorota", "Justyna", "Paulina", "Marta", "Iwona", "Grażyna", "Renata", "Agata", "Sylwia",
)  # fmt: skip
SURNAMES: tuple[str, ...] = (
    "Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński",
    "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Wojciechowski",
    "Kwiatkowski", "Krawczyk", "Kaczmarek", "Piotrowski", "Grabowski", "Zając", "Pawłowski", "Michalski",
    "Król", "Nowakowski", "Wieczorek", "Wróbel", "Jabłoński", "Wróblewski", "Majewski", "Olszewski",
    "Stępień", "Malinowski", "Jaworski", "Adamczyk", "Dudek", "Nowicki", "Pawlak", "Górski", "Witkowski",
    "Walczak", "Sikora", "Baran", "Rutkowski", "Michalak", "Szewczyk", "Ostrowski", "Tomaszewski",
    "Pietrzak", "Zalewski", "Wróbel", "Marciniak", "Jasiński", "Zawadzki", "Sadowski", "Bąk", "Chmielewski",
    "Włodarczyk", "Borkowski", "Czarnecki", "Sokołowski", "Urbański", "Kubiak", "Maciejewski", "Szczepański",
    "Kucharski", "Wilk", "Kalinowski", "Lis", "Mazurek", "Wysocki", "Adamski", "Kaźmierczak", "Wasilewski",
    "Sobczak", "Czerwiński", "Andrzejewski", "Cieślak", "Głowacki", "Zakrzewski", "Kołodziej", "Sikorski",
    "Krajewski", "Gajewski", "Szymczak", "Szulc", "Baranowski", "Laskowski", "Brzeziński", "Makowski",
    "Ziółkowski", "Przybylski", "Domański", "Nowacki", "Borowski", "Błaszczyk", "Chojnacki", "Ciesielski",
)  # fmt: skip


def feminine(surname: str) -> str:
    """Kowalski -> Kowalska, Nowicki -> Nowicka, Zawadzki -> Zawadzka; Nowak stays Nowak."""
    return f"{surname[:-1]}a" if surname.endswith(("ski", "cki", "dzki")) else surname


Industry = Literal["transport", "budownictwo", "handel", "produkcja", "usługi", "rolnictwo"]


@dataclass(frozen=True)
class Trade:
    industry: Industry
    sole_trader_names: tuple[str, ...]
    """What a sole trader calls the business before the owner's name."""
    company_words: tuple[str, ...]
    """Words that follow a company's brand name."""
    assets: tuple[str, ...]
    """Keys of ASSETS this trade leases."""
    weight: int


TRADES: tuple[Trade, ...] = (
    Trade(
        "transport",
        ("Usługi Transportowe", "Transport Drogowy", "Przewóz Towarów", "Spedycja i Transport"),
        ("Logistyka", "Transport", "Spedycja", "Cargo"),
        ("truck", "truck", "trailer", "van", "car"),
        5,
    ),
    Trade(
        "budownictwo",
        ("Usługi Budowlane", "Zakład Ogólnobudowlany", "Roboty Ziemne", "Usługi Remontowo-Budowlane"),
        ("Budownictwo", "Inżynieria", "Deweloper", "Infrastruktura"),
        ("excavator", "backhoe", "loader", "van", "car"),
        4,
    ),
    Trade(
        "handel",
        ("Firma Handlowa", "Przedsiębiorstwo Handlowo-Usługowe", "Hurtownia", "Handel Hurtowy i Detaliczny"),
        ("Dystrybucja", "Handel", "Hurt", "Trade"),
        ("car", "car", "van", "forklift"),
        4,
    ),
    Trade(
        "produkcja",
        ("Zakład Produkcyjny", "Stolarstwo", "Zakład Ślusarski", "Produkcja Opakowań"),
        ("Produkcja", "Industries", "Technika", "Fabryka Mebli"),
        ("forklift", "forklift", "car", "van"),
        3,
    ),
    Trade(
        "usługi",
        ("Kancelaria", "Biuro Rachunkowe", "Gabinet Stomatologiczny", "Usługi Informatyczne", "Pracownia Projektowa"),
        ("Consulting", "Serwis", "Software", "Medical"),
        ("car", "car", "car_premium"),
        4,
    ),
    Trade(
        "rolnictwo",
        ("Gospodarstwo Rolne", "Usługi Rolnicze", "Sadownictwo"),
        ("Agro", "Rolnictwo", "Agrotechnika"),
        ("tractor", "tractor", "van", "car"),
        2,
    ),
)

BRAND_HEADS: tuple[str, ...] = (
    "Trans", "Bud", "Pol", "Agro", "Eko", "Inter", "Euro", "Mar", "Stal", "Drew", "Hydro", "Elektro",
    "Termo", "Auto", "Med", "Kom", "Geo", "Nord", "Bał", "Mazow", "Wiel", "Karp", "Tatra", "Wars", "Wis",
    "Odra", "Gal", "Kuj", "Pom", "Ziem", "Las", "Grod",
)  # fmt: skip
BRAND_TAILS: tuple[str, ...] = (
    "bud", "pol", "trans", "tech", "mar", "stal", "rem", "kom", "serwis", "med", "met", "plast", "gaz",
    "spec", "lux", "net", "sped", "log", "dom", "mex", "rol", "tex",
)  # fmt: skip


@dataclass(frozen=True)
class Model:
    make: str
    model: str
    wmi: str
    vds: str
    """Positions 4 to 8 of the VIN (the model descriptor)."""
    plant: str
    price: tuple[int, int]
    """Net price range in PLN."""


@dataclass(frozen=True)
class AssetKind:
    kind: str
    """As the contract names it, in Polish."""
    models: tuple[Model, ...]
    registered: bool
    """Whether it carries number plates."""
    terms: tuple[int, ...]
    """Typical lease terms in months."""
    residual: tuple[int, int]
    """Residual value (operating lease buy-out) range, in percent of the net price."""


ASSETS: dict[str, AssetKind] = {
    "car": AssetKind(
        "samochód osobowy",
        (
            Model("Škoda", "Octavia Combi 2.0 TDI", "TMB", "JR7NX", "0", (105_000, 145_000)),
            Model("Škoda", "Superb Combi 2.0 TDI", "TMB", "LH7NP", "0", (150_000, 195_000)),
            Model("Škoda", "Kodiaq 2.0 TSI 4x4", "TMB", "LJ9NS", "8", (160_000, 210_000)),
            Model("Škoda", "Fabia 1.0 TSI", "TMB", "EP6NJ", "0", (68_000, 85_000)),
            Model("Toyota", "Corolla Touring Sports 1.8 Hybrid", "SB1", "Z93BE", "0", (105_000, 130_000)),
            Model("Toyota", "C-HR 2.0 Hybrid", "NMT", "KA3BX", "R", (130_000, 160_000)),
            Model("Toyota", "Yaris Cross 1.5 Hybrid", "VNK", "KBA3D", "0", (95_000, 120_000)),
            Model("Volkswagen", "Passat Variant 2.0 TDI", "WVW", "ZZZ3C", "E", (150_000, 190_000)),
            Model("Volkswagen", "Golf 1.5 eTSI", "WVW", "ZZZCD", "W", (100_000, 130_000)),
            Model("Ford", "Focus Kombi 1.0 EcoBoost", "WF0", "NXXGC", "D", (90_000, 115_000)),
            Model("Ford", "Kuga 2.5 PHEV", "WF0", "AXXWP", "G", (140_000, 175_000)),
            Model("Renault", "Megane Grandtour 1.3 TCe", "VF1", "RFB00", "6", (85_000, 110_000)),
            Model("Renault", "Clio 1.0 TCe", "VF1", "RJA00", "5", (62_000, 78_000)),
            Model("Kia", "Ceed SW 1.5 T-GDI", "U5Y", "H5813", "L", (90_000, 115_000)),
            Model("Kia", "Sportage 1.6 T-GDI HEV", "U5Y", "PG81B", "L", (130_000, 165_000)),
            Model("Hyundai", "i30 Wagon 1.5 T-GDI", "TMA", "H851A", "U", (88_000, 110_000)),
            Model("Opel", "Astra Sports Tourer 1.2", "W0V", "FSH8A", "2", (85_000, 105_000)),
        ),
        True,
        (24, 36, 36, 48, 48, 60),
        (1, 20),
    ),
    "car_premium": AssetKind(
        "samochód osobowy",
        (
            Model("BMW", "320d Touring xDrive", "WBA", "31AP0", "N", (190_000, 240_000)),
            Model("Audi", "A4 Avant 40 TDI quattro", "WAU", "ZZZF4", "A", (185_000, 235_000)),
            Model("Volvo", "XC60 B5 AWD", "YV1", "UZA8V", "1", (210_000, 265_000)),
            Model("Mercedes-Benz", "C 220 d Kombi", "WDD", "2062A", "F", (200_000, 255_000)),
        ),
        True,
        (36, 48, 60),
        (5, 20),
    ),
    "van": AssetKind(
        "samochód dostawczy",
        (
            Model("Ford", "Transit Custom 2.0 EcoBlue", "WF0", "YXXTT", "G", (140_000, 185_000)),
            Model("Volkswagen", "Crafter 35 2.0 TDI", "WV1", "ZZZSY", "P", (170_000, 220_000)),
            Model("Renault", "Master 2.3 dCi", "VF1", "MA000", "6", (130_000, 170_000)),
            Model("Fiat", "Ducato 2.2 Multijet", "ZFA", "25000", "2", (135_000, 175_000)),
            Model("Iveco", "Daily 35S16", "ZCF", "C35A0", "5", (150_000, 195_000)),
            Model("Mercedes-Benz", "Sprinter 317 CDI", "WDB", "9076C", "P", (180_000, 235_000)),
        ),
        True,
        (36, 48, 60),
        (1, 10),
    ),
    "truck": AssetKind(
        "ciągnik siodłowy",
        (
            Model("Volvo", "FH 500 4x2", "YV2", "RT40A", "B", (420_000, 520_000)),
            Model("Scania", "R 450 A4x2NA", "YS2", "R4X20", "0", (400_000, 500_000)),
            Model("DAF", "XF 480 FT", "XLR", "TEH43", "0", (390_000, 480_000)),
            Model("MAN", "TGX 18.510 4x2 BLS", "WMA", "06XZZ", "W", (410_000, 510_000)),
            Model("Mercedes-Benz", "Actros 1845 LS", "WDB", "96340", "L", (420_000, 530_000)),
            Model("Renault Trucks", "T 480 High", "VF6", "22GVA", "0", (380_000, 470_000)),
        ),
        True,
        (36, 48, 60),
        (1, 10),
    ),
    "trailer": AssetKind(
        "naczepa",
        (
            Model("Schmitz Cargobull", "S.CS Mega Curtainsider", "WSM", "S2400", "0", (135_000, 170_000)),
            Model("Krone", "Profi Liner SD", "WKE", "SDP27", "0", (130_000, 165_000)),
        ),
        True,
        (36, 48, 60),
        (1, 5),
    ),
    "excavator": AssetKind(
        "koparka gąsienicowa",
        (
            Model("Volvo CE", "EC220E", "YV2", "E220E", "S", (520_000, 690_000)),
            Model("Caterpillar", "320 GC", "CAT", "0320G", "C", (560_000, 720_000)),
            Model("Komatsu", "PC210LC-11", "KMT", "PC210", "H", (540_000, 700_000)),
        ),
        False,
        (48, 60),
        (1, 5),
    ),
    "backhoe": AssetKind(
        "koparko-ładowarka",
        (
            Model("JCB", "3CX Eco", "JCB", "3CX4T", "K", (380_000, 480_000)),
            Model("Caterpillar", "432", "CAT", "0432F", "L", (400_000, 500_000)),
        ),
        False,
        (48, 60),
        (1, 5),
    ),
    "loader": AssetKind(
        "ładowarka kołowa",
        (
            Model("Volvo CE", "L60H", "YV2", "L60H0", "S", (480_000, 620_000)),
            Model("Liebherr", "L 538", "VLH", "L538A", "B", (500_000, 640_000)),
        ),
        False,
        (48, 60),
        (1, 5),
    ),
    "forklift": AssetKind(
        "wózek widłowy",
        (
            Model("Toyota", "Traigo 48 8FBE18T", "SE1", "8FBE1", "M", (95_000, 140_000)),
            Model("Linde", "H25T", "WLD", "H25T3", "A", (110_000, 160_000)),
            Model("Jungheinrich", "EFG 216", "WJH", "EFG21", "N", (90_000, 130_000)),
            Model("Still", "RX 20-18", "WST", "RX201", "H", (85_000, 125_000)),
        ),
        False,
        (24, 36, 48),
        (1, 5),
    ),
    "tractor": AssetKind(
        "ciągnik rolniczy",
        (
            Model("John Deere", "6R 150", "1L0", "6150R", "M", (520_000, 680_000)),
            Model("New Holland", "T7.210", "ZAT", "T7210", "B", (450_000, 590_000)),
            Model("Zetor", "Proxima 120", "TSZ", "PX120", "0", (260_000, 330_000)),
            Model("Ursus", "C-3110", "SUK", "C3110", "1", (220_000, 290_000)),
        ),
        True,
        (48, 60),
        (1, 5),
    ),
}


@dataclass(frozen=True)
class Bank:
    name: str
    code: str
    """The bank's 3-digit number in its sort codes."""


LESSOR_BANK = Bank("Bank Polska Kasa Opieki S.A.", "124")
"""Where the lessor keeps the clients' individual (virtual) repayment accounts."""
LESSOR_BRANCH = "0100"
LESSOR_NAME = "Strefa Leasing sp. z o.o."
LESSOR_ADDRESS = "ul. Prosta 70, 00-838 Warszawa"
LESSOR_TAX_OFFICE = "527"
"""The lessor's NIP is computed from this office code and a serial (see world.lessor_nip)."""

LATE_INTEREST_RATE = Decimal("0.1525")
"""Yearly late-payment interest in commercial transactions (the NBP reference rate + 10 pp),
fixed for the demo data."""

MONTHS_PL: tuple[str, ...] = (
    "styczeń", "luty", "marzec", "kwiecień", "maj", "czerwiec",
    "lipiec", "sierpień", "wrzesień", "październik", "listopad", "grudzień",
)  # fmt: skip

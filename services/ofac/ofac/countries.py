"""ISO 3166-1 alpha-2 codes -> the country names OFAC writes in add.csv, so a filter or a
customer's country can be given either way ("PA" or "Panama")."""

from __future__ import annotations

from .names import normalize

OFAC_COUNTRY_NAMES: dict[str, str] = {
    "AF": "Afghanistan", "AL": "Albania", "DZ": "Algeria", "AO": "Angola", "AR": "Argentina",
    "AM": "Armenia", "AW": "Aruba", "AU": "Australia", "AT": "Austria", "AZ": "Azerbaijan",
    "BS": "Bahamas, The", "BH": "Bahrain", "BD": "Bangladesh", "BB": "Barbados", "BY": "Belarus",
    "BE": "Belgium", "BZ": "Belize", "BJ": "Benin", "BO": "Bolivia", "BA": "Bosnia and Herzegovina",
    "BR": "Brazil", "BN": "Brunei", "BG": "Bulgaria", "BF": "Burkina Faso", "MM": "Burma",
    "BI": "Burundi", "KH": "Cambodia", "CA": "Canada", "KY": "Cayman Islands",
    "CF": "Central African Republic", "CL": "Chile", "CN": "China", "CO": "Colombia",
    "KM": "Comoros", "CD": "Congo, Democratic Republic of the", "CG": "Congo, Republic of the",
    "CR": "Costa Rica", "CI": "Cote d Ivoire", "HR": "Croatia", "CU": "Cuba", "CY": "Cyprus",
    "CZ": "Czech Republic", "DK": "Denmark", "DM": "Dominica", "DO": "Dominican Republic",
    "EC": "Ecuador", "EG": "Egypt", "SV": "El Salvador", "GQ": "Equatorial Guinea", "ER": "Eritrea",
    "ET": "Ethiopia", "FI": "Finland", "FR": "France", "GE": "Georgia", "DE": "Germany",
    "GH": "Ghana", "GI": "Gibraltar", "GR": "Greece", "GT": "Guatemala", "GY": "Guyana",
    "HT": "Haiti", "HN": "Honduras", "HK": "Hong Kong", "IN": "India", "ID": "Indonesia",
    "IR": "Iran", "IQ": "Iraq", "IE": "Ireland", "IL": "Israel", "IT": "Italy", "JM": "Jamaica",
    "JP": "Japan", "JE": "Jersey", "JO": "Jordan", "KZ": "Kazakhstan", "KE": "Kenya",
    "KP": "Korea, North", "KR": "Korea, South", "XK": "Kosovo", "KW": "Kuwait", "KG": "Kyrgyzstan",
    "LA": "Laos", "LV": "Latvia", "LB": "Lebanon", "LR": "Liberia", "LY": "Libya",
    "LI": "Liechtenstein", "LU": "Luxembourg", "MO": "Macau", "MY": "Malaysia", "MV": "Maldives",
    "ML": "Mali", "MT": "Malta", "MH": "Marshall Islands", "MR": "Mauritania", "MX": "Mexico",
    "MD": "Moldova", "MN": "Mongolia", "ME": "Montenegro", "MA": "Morocco", "MZ": "Mozambique",
    "NA": "Namibia", "NL": "Netherlands", "AN": "Netherlands Antilles", "NZ": "New Zealand",
    "NI": "Nicaragua", "NE": "Niger", "NG": "Nigeria", "NO": "Norway", "OM": "Oman",
    "PK": "Pakistan", "PW": "Palau", "PS": "Palestinian", "PA": "Panama", "PY": "Paraguay",
    "PE": "Peru", "PH": "Philippines", "PL": "Poland", "QA": "Qatar", "RO": "Romania",
    "RU": "Russia", "RW": "Rwanda", "KN": "Saint Kitts and Nevis",
    "VC": "Saint Vincent and the Grenadines", "WS": "Samoa", "SA": "Saudi Arabia", "SN": "Senegal",
    "RS": "Serbia", "SC": "Seychelles", "SL": "Sierra Leone", "SG": "Singapore", "SK": "Slovakia",
    "SI": "Slovenia", "SO": "Somalia", "ZA": "South Africa", "SS": "South Sudan", "ES": "Spain",
    "LK": "Sri Lanka", "SD": "Sudan", "SE": "Sweden", "CH": "Switzerland", "SY": "Syria",
    "TW": "Taiwan", "TJ": "Tajikistan", "TZ": "Tanzania", "TH": "Thailand", "GM": "The Gambia",
    "TT": "Trinidad and Tobago", "TN": "Tunisia", "TR": "Turkey", "TM": "Turkmenistan",
    "UG": "Uganda", "UA": "Ukraine", "AE": "United Arab Emirates", "GB": "United Kingdom",
    "US": "United States", "UY": "Uruguay", "UZ": "Uzbekistan", "VU": "Vanuatu", "VE": "Venezuela",
    "VN": "Vietnam", "VG": "Virgin Islands, British", "YE": "Yemen", "ZW": "Zimbabwe",
}  # fmt: skip
ISO2_LENGTH = 2


def country_key(country: str) -> str:
    """A comparable key for a country given as an ISO-2 code or as OFAC's name."""
    value = country.strip()
    if len(value) == ISO2_LENGTH and value.upper() in OFAC_COUNTRY_NAMES:
        value = OFAC_COUNTRY_NAMES[value.upper()]
    return normalize(value)

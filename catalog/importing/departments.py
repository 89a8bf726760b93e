"""Where the 2023 dataset's one-level category names belong in Amazon's department tree.

The "Amazon Products Dataset 2023" names categories by their own label only ("Men's
Shoes", "Makeup", "Computer Monitors"); the shop shows them under their Amazon US
department ("Clothing, Shoes & Jewelry | Men's Shoes"). The grouping follows amazon.com's
departments and the dataset's own id order (ids are assigned department by department).
A name that *is* a department ("Toys & Games", "Video Games") is that department's node;
a name not listed here becomes a root of its own; a name containing " | " is already a
full path and is used as it is.
"""

from __future__ import annotations

PATH_SEPARATOR = " | "

DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "Arts, Crafts & Sewing": (
        "Beading & Jewelry Making",
        "Fabric Decorating",
        "Knitting & Crochet Supplies",
        "Printmaking Supplies",
        "Scrapbooking & Stamping Supplies",
        "Sewing Products",
        "Craft & Hobby Fabric",
        "Needlework Supplies",
        "Arts, Crafts & Sewing Storage",
        "Painting, Drawing & Art Supplies",
        "Craft Supplies & Materials",
        "Gift Wrapping Supplies",
        "Party Decorations",
    ),
    "Automotive": (
        "Automotive Paint & Paint Supplies",
        "Heavy Duty & Commercial Vehicle Equipment",
        "Automotive Tires & Wheels",
        "Automotive Tools & Equipment",
        "Automotive Performance Parts & Accessories",
        "Car Care",
        "Oils & Fluids",
        "Automotive Replacement Parts",
        "Lights, Bulbs & Indicators",
        "Automotive Interior Accessories",
        "Automotive Exterior Accessories",
        "Automotive Enthusiast Merchandise",
        "Car Electronics & Accessories",
        "RV Parts & Accessories",
        "Motorcycle & Powersports",
    ),
    "Baby Products": (
        "Baby Diapering Products",
        "Baby & Toddler Feeding Supplies",
        "Pregnancy & Maternity Products",
        "Child Safety Car Seats & Accessories",
        "Baby Safety Products",
        "Toilet Training Products",
        "Baby Care Products",
        "Baby Travel Gear",
        "Baby Activity & Entertainment Products",
        "Baby Gifts",
        "Baby Stationery",
        "Nursery Furniture, Bedding & Décor",
        "Baby Strollers & Accessories",
    ),
    "Beauty & Personal Care": (
        "Perfumes & Fragrances",
        "Hair Care Products",
        "Makeup",
        "Skin Care Products",
        "Beauty Tools & Accessories",
        "Foot, Hand & Nail Care Products",
        "Personal Care Products",
        "Shaving & Hair Removal Products",
    ),
    "Computers": (
        "Computer Servers",
        "Data Storage",
        "Computer Monitors",
        "Computers & Tablets",
        "Tablet Replacement Parts",
        "Computer Networking",
        "Computer Components",
        "Tablet Accessories",
        "Laptop Accessories",
        "Computer External Components",
    ),
    "Electronics": (
        "Wearable Technology",
        "Televisions & Video Products",
        "GPS & Navigation",
        "Headphones & Earbuds",
        "Office Electronics",
        "Portable Audio & Video",
        "eBook Readers & Accessories",
        "Cell Phones & Accessories",
        "Accessories & Supplies",
        "Video Projectors",
        "Vehicle Electronics",
        "Camera & Photo",
        "Security & Surveillance Equipment",
        "Home Audio & Theater Products",
        "Video Game Consoles & Accessories",
    ),
    "Clothing, Shoes & Jewelry": (
        "Baby Boys' Clothing & Shoes",
        "Baby Girls' Clothing & Shoes",
        "Boys' Clothing",
        "Boys' Accessories",
        "Boys' Jewelry",
        "Boys' Watches",
        "Boys' Shoes",
        "Boys' School Uniforms",
        "Girls' Clothing",
        "Girls' Accessories",
        "Girls' Jewelry",
        "Girls' Watches",
        "Girls' Shoes",
        "Girls' School Uniforms",
        "Men's Clothing",
        "Men's Accessories",
        "Men's Watches",
        "Men's Shoes",
        "Women's Clothing",
        "Women's Handbags",
        "Women's Accessories",
        "Women's Watches",
        "Women's Shoes",
        "Women's Jewelry",
    ),
    "Luggage & Travel Gear": (
        "Travel Duffel Bags",
        "Messenger Bags",
        "Travel Tote Bags",
        "Garment Bags",
        "Luggage Sets",
        "Suitcases",
        "Travel Accessories",
        "Rain Umbrellas",
        "Backpacks",
        "Luggage",
        "Laptop Bags",
    ),
    "Gift Cards": (),
    "Health & Household": (
        "Oral Care Products",
        "Vision Products",
        "Wellness & Relaxation Products",
        "Baby & Child Care Products",
        "Household Supplies",
        "Health Care Products",
        "Diet & Sports Nutrition",
        "Home Use Medical Supplies & Equipment",
        "Sexual Wellness Products",
        "Sports Nutrition Products",
    ),
    "Office Products": ("Stationery & Gift Wrapping Supplies",),
    "Industrial & Scientific": (
        "Commercial Door Products",
        "Power Transmission Products",
        "Industrial Materials",
        "Industrial Hardware",
        "Abrasive & Finishing Products",
        "Industrial Adhesives, Sealants & Lubricants",
        "Material Handling Products",
        "Test, Measure & Inspect",
        "Industrial Power & Hand Tools",
        "Hydraulics, Pneumatics & Plumbing",
        "Filtration",
        "Electronic Components",
        "Lab & Scientific Products",
        "Janitorial & Sanitation Supplies",
        "Occupational Health & Safety Products",
        "Cutting Tools",
        "Fasteners",
        "Science Education Supplies",
        "Food Service Equipment & Supplies",
        "Additive Manufacturing Products",
        "Professional Medical Supplies",
        "Professional Dental Supplies",
        "Packaging & Shipping Supplies",
        "Retail Store Fixtures & Equipment",
    ),
    "Home & Kitchen": (
        "Kids' Furniture",
        "Bath Products",
        "Bedding",
        "Home Décor Products",
        "Furniture",
        "Household Cleaning Supplies",
        "Seasonal Décor",
        "Home Lighting & Ceiling Fans",
        "Kitchen & Dining",
        "Heating, Cooling & Air Quality",
        "Kids' Home Store",
        "Home Storage & Organization",
        "Wall Art",
        "Vacuum Cleaners & Floor Care",
        "Ironing Products",
        "Party Supplies",
    ),
    "Appliances": ("Home Appliances",),
    "Pet Supplies": (
        "Pet Bird Supplies",
        "Cat Supplies",
        "Dog Supplies",
        "Fish & Aquatic Pets",
        "Horse Supplies",
        "Reptiles & Amphibian Supplies",
        "Small Animal Supplies",
    ),
    "Smart Home": (
        "Smart Home: New Smart Devices",
        "Smart Home: Voice Assistants and Hubs",
        "Smart Home: Smart Locks and Entry",
        "Smart Home: Home Entertainment",
        "Smart Home: WiFi and Networking",
        "Smart Home: Security Cameras and Systems",
        "Smart Home: Lighting",
        "Smart Home: Plugs and Outlets",
        "Smart Home: Vacuums and Mops",
        "Smart Home Thermostats - Compatibility Checker",
        "Smart Home: Lawn and Garden",
        "Smart Home: Other Solutions",
        "Smart Home - Heating & Cooling",
    ),
    "Sports & Outdoors": ("Sports & Fitness", "Outdoor Recreation"),
    "Tools & Home Improvement": (
        "Pumps & Plumbing Equipment",
        "Paint, Wall Treatments & Supplies",
        "Safety & Security",
        "Light Bulbs",
        "Power Tools & Hand Tools",
        "Kitchen & Bath Fixtures",
        "Lighting & Ceiling Fans",
        "Electrical Equipment",
        "Hardware",
        "Building Supplies",
        "Measuring & Layout",
        "Welding & Soldering",
    ),
    "Toys & Games": (
        "Kids' Party Supplies",
        "Toy Figures & Playsets",
        "Novelty Toys & Amusements",
        "Arts & Crafts Supplies",
        "Building Toys",
        "Dolls & Accessories",
        "Kids' Electronics",
        "Games & Accessories",
        "Learning & Education Toys",
        "Kids' Dress Up & Pretend Play",
        "Puppets & Puppet Theaters",
        "Puzzles",
        "Sports & Outdoor Play Toys",
        "Stuffed Animals & Plush Toys",
        "Baby & Toddler Toys",
        "Tricycles, Scooters & Wagons",
        "Finger Toys",
        "Toy Vehicle Playsets",
        "Kids' Play Trains & Trams",
        "Kids' Play Trucks",
        "Kids' Play Cars & Race Cars",
        "Kids' Play Boats",
        "Kids' Play Buses",
        "Kids' Play Tractors",
        "Slot Cars, Race Tracks & Accessories",
    ),
    "Video Games": (
        "Sony PSP Games, Consoles & Accessories",
        "Nintendo DS Games, Consoles & Accessories",
        "PlayStation 3 Games, Consoles & Accessories",
        "Wii Games, Consoles & Accessories",
        "Xbox 360 Games, Consoles & Accessories",
        "Mac Games & Accessories",
        "Nintendo 3DS & 2DS Consoles, Games & Accessories",
        "Legacy Systems",
        "PlayStation Vita Games, Consoles & Accessories",
        "Wii U Games, Consoles & Accessories",
        "PlayStation 4 Games, Consoles & Accessories",
        "Xbox One Games, Consoles & Accessories",
        "Online Video Game Services",
        "Virtual Reality Hardware & Accessories",
        "Nintendo Switch Consoles, Games & Accessories",
        "PlayStation 5 Consoles, Games & Accessories",
        "Xbox Series X & S Consoles, Games & Accessories",
        "PC Games & Accessories",
    ),
}

# Names that stand for a whole department rather than a category inside it.
DEPARTMENT_ALIASES = {"Baby": "Baby Products"}


def _department_by_name() -> dict[str, str]:
    table: dict[str, str] = {}
    for department, names in DEPARTMENTS.items():
        table[department.casefold()] = department
        for name in names:
            table[name.casefold()] = department
    return table


DEPARTMENT_BY_NAME = _department_by_name()


def path_normalize(path: str) -> str:
    """A category path with each level's whitespace collapsed and empty levels dropped:
    ``" Toys & Games |  Puzzles |"`` → ``"Toys & Games | Puzzles"``."""
    levels = (" ".join(level.split()) for level in path.split("|"))
    return PATH_SEPARATOR.join(level for level in levels if level)


def category_path_for_name(name: str) -> str:
    """The full category path for a 2023 category name.

    A name that already holds " | " is a path; a department's own name (or an alias of
    it) is the department; a known name goes under its department; anything else is a
    root of its own."""
    if "|" in name:
        return path_normalize(name)
    name = " ".join(name.split())
    if not name:
        return ""
    if name in DEPARTMENT_ALIASES:
        return DEPARTMENT_ALIASES[name]
    department = DEPARTMENT_BY_NAME.get(name.casefold())
    if department is None:
        return name
    if department.casefold() == name.casefold():
        return department
    return f"{department}{PATH_SEPARATOR}{name}"

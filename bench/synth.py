"""A synthetic catalog in the Amazon 2023 layout, generated deterministically.

    python -m bench.synth --count 300 --seed 2 --out catalog/demo_data --name demo
    python -m bench.synth --count 100000 --seed 1 --out var/bench --name bench

writes ``<name>-products.csv`` (``asin,title,imgUrl,productURL,stars,reviews,price,
listPrice,category_id,isBestSeller,boughtInLastMonth``) and ``<name>-categories.csv``
(``id,category_name``). Category names are full paths ("Toys & Games | Puzzles") so the
importer places them in the tree as they are; the paths are chosen so the seeded customs
mapping gives the products varied customs classes (clothing, shoes, bags, cosmetics,
functional cosmetics, supplements, foods, electronics, computers, books, toys, other).

Everything is invented from the vocabulary below: brands and titles are fictional, ASINs
start with ``GS`` (real ASINs start with ``B0`` or are ISBNs), there are no image or
product URLs (the storefront shows its placeholder). No row of the real Amazon samples is
used. The same count and seed always give the same files.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from catalog.importing.layouts import AMAZON_2023, AMAZON_2023_CATEGORIES

# The importer's own definition of the layout, so generated feeds cannot drift from it.
PRODUCTS_HEADER = list(AMAZON_2023.columns)
CATEGORIES_HEADER = list(AMAZON_2023_CATEGORIES.columns)


@dataclass(frozen=True)
class Item:
    """A kind of thing sold in a category and its usual USD price range."""

    noun: str
    price_low: float
    price_high: float


@dataclass(frozen=True)
class Leaf:
    """A leaf category: its full path, its share of the catalog, the variant groups its
    titles draw from (see ``VARIANTS``) and the items sold there."""

    path: str
    weight: int
    variants: tuple[str, ...]
    items: tuple[Item, ...]


def _leaf(path: str, weight: int, variants: str, items: str) -> Leaf:
    """``items`` reads "Noun low-high; Noun low-high; ..." (prices in USD)."""
    parsed = []
    for entry in items.split(";"):
        noun, _, price_range = entry.strip().rpartition(" ")
        low, high = price_range.split("-")
        parsed.append(Item(noun, float(low), float(high)))
    return Leaf(path, weight, tuple(v for v in variants.split(",") if v), tuple(parsed))


# The path decides the customs class through the seeded mapping rules (catalog migration
# 0002): "Men's Fashion | Shoes" → shoes, "Health & Household | Vitamins & Dietary
# Supplements" → supplements (USD 150 limit), "Books | ..." → books (0% duty, no VAT).
# Prices are mostly USD 5–150; watches, laptops, monitors, cameras, vacuums and the like
# go over USD 150/200 so the customs limits show.
# fmt: off
TAXONOMY: tuple[Leaf, ...] = (
    _leaf("Women's Fashion | Clothing", 14, "color,apparel_size",
          "Wrap Dress 28-89; Linen Blouse 19-59; Knit Cardigan 24-79; Yoga Leggings 14-48; "
          "Denim Jacket 35-110; Pleated Midi Skirt 22-64; Puffer Vest 39-120"),
    _leaf("Women's Fashion | Shoes", 10, "color,shoe_size",
          "Running Shoes 45-160; Ankle Boots 49-190; Ballet Flats 25-89; "
          "Slip-On Sneakers 29-95; Block Heel Sandals 32-99"),
    _leaf("Women's Fashion | Handbags", 7, "color",
          "Crossbody Bag 22-120; Leather Tote 59-260; Mini Shoulder Bag 25-140; "
          "Quilted Clutch 19-89"),
    _leaf("Women's Fashion | Watches", 5, "color",
          "Minimalist Watch 39-180; Rose Gold Watch 59-320; Mesh Band Watch 35-150"),
    _leaf("Women's Fashion | Jewelry", 6, "",
          "Pendant Necklace 12-140; Hoop Earrings 9-75; Charm Bracelet 14-110; "
          "Stacking Rings Set 9-49"),
    _leaf("Men's Fashion | Clothing", 14, "color,apparel_size",
          "Oxford Shirt 22-69; Chino Pants 29-79; Fleece Hoodie 25-75; Merino Sweater 49-130; "
          "Rain Jacket 45-160; Athletic Shorts 14-39; Crew Neck T-Shirt 3-Pack 15-35"),
    _leaf("Men's Fashion | Shoes", 10, "color,shoe_size",
          "Trail Running Shoes 55-170; Leather Loafers 60-210; Chelsea Boots 70-230; "
          "Canvas Sneakers 30-75; Hiking Boots 79-220"),
    _leaf("Men's Fashion | Watches", 5, "color",
          "Chronograph Watch 69-450; Dive Watch 89-420; Field Watch 45-220; Solar Watch 79-300"),
    _leaf("Men's Fashion | Accessories", 6, "color",
          "Leather Wallet 15-79; Reversible Belt 14-49; Wool Beanie 9-29; "
          "Polarized Sunglasses 15-160"),
    _leaf("Beauty & Personal Care | Makeup", 12, "shade",
          "Matte Lipstick 6-32; Liquid Eyeliner 6-24; Cushion Foundation 14-48; "
          "Volumizing Mascara 7-28; Eyeshadow Palette 9-59; Setting Powder 8-38"),
    _leaf("Beauty & Personal Care | Skin Care", 12, "volume",
          "Hydrating Serum 12-85; Gel Moisturizer 10-62; Foaming Cleanser 7-32; "
          "Night Cream 14-95; Clay Mask 9-39; Toner Pads 11-29"),
    _leaf("Beauty & Personal Care | Sun Care", 6, "volume",
          "Mineral Sunscreen SPF 50 9-38; Sunscreen Stick SPF 45 8-24; "
          "Tinted Sunscreen SPF 30 12-42"),
    _leaf("Beauty & Personal Care | Hair Care", 8, "volume",
          "Repair Shampoo 7-36; Leave-In Conditioner 8-30; Argan Hair Oil 9-45; "
          "Curl Cream 8-28; Scalp Scrub 10-38"),
    _leaf("Beauty & Personal Care | Perfumes & Fragrances", 6, "volume",
          "Eau de Parfum 35-220; Eau de Toilette 25-140; Body Mist 9-29; "
          "Rollerball Perfume 15-49"),
    _leaf("Health & Household | Vitamins & Dietary Supplements", 10, "count",
          "Vitamin D3 Softgels 7-29; Omega-3 Fish Oil 12-45; Magnesium Glycinate 11-32; "
          "Probiotic Capsules 15-55; Multivitamin Gummies 9-35; Collagen Peptides Powder 19-49"),
    _leaf("Health & Household | Sports Nutrition", 6, "",
          "Whey Protein Powder 2 lb 29-79; Electrolyte Drink Mix 14-39; "
          "Creatine Monohydrate 15-45; Protein Bars 12-Pack 18-34"),
    _leaf("Health & Household | Household Supplies", 6, "pack",
          "Laundry Detergent Pods 12-32; Dish Soap 5-15; Reusable Cleaning Cloths 8-22; "
          "Compostable Trash Bags 9-29"),
    _leaf("Grocery & Gourmet Food | Coffee", 5, "",
          "Whole Bean Coffee 2 lb 14-45; Cold Brew Coffee Packs 9-29; "
          "Single-Origin Ground Coffee 10-26"),
    _leaf("Grocery & Gourmet Food | Snacks", 5, "pack",
          "Trail Mix 6-22; Dark Chocolate Almonds 7-24; Sea Salt Crackers 5-16; "
          "Dried Mango Slices 6-19"),
    _leaf("Electronics | Headphones & Earbuds", 10, "color",
          "Wireless Earbuds 19-249; Noise Cancelling Headphones 59-380; Sports Earbuds 18-99; "
          "Studio Headphones 39-290; Bone Conduction Headphones 49-180"),
    _leaf("Electronics | Home Audio", 6, "color",
          "Bookshelf Speakers 69-420; Soundbar 79-520; Turntable 89-450; "
          "Portable Bluetooth Speaker 25-180"),
    _leaf("Electronics | Wearable Technology", 6, "color",
          "Fitness Tracker 25-150; Smartwatch 79-350; Smart Ring 149-349; "
          "Heart Rate Monitor Strap 29-90"),
    _leaf("Electronics | Cell Phones & Accessories", 10, "color",
          "Phone Case 8-45; MagSafe Charger 15-59; USB-C Cable 2-Pack 7-22; "
          "Power Bank 20000mAh 19-69; Screen Protector 3-Pack 7-19"),
    _leaf("Electronics | Camera & Photo", 5, "",
          "Mirrorless Camera 399-1200; Action Camera 79-399; Camera Tripod 19-149; "
          "Instant Camera 59-149; Lens Filter Kit 15-89"),
    _leaf("Electronics | Smart Home", 6, "",
          "Smart Plug 4-Pack 15-39; Video Doorbell 49-229; Smart Light Bulbs 4-Pack 19-59; "
          "Indoor Security Camera 25-99; Smart Thermostat 79-249"),
    _leaf("Computers | Laptop Accessories", 6, "color",
          "Laptop Stand 15-69; Laptop Sleeve 12-45; USB-C Hub 19-89; Cooling Pad 18-49"),
    _leaf("Computers | Laptops", 4, "",
          "Ultrabook Laptop 14-inch 499-1600; Chromebook 11-inch 179-399; "
          "Gaming Laptop 16-inch 799-1900; 2-in-1 Convertible Laptop 399-1100"),
    _leaf("Computers | Monitors", 4, "",
          "27-inch 4K Monitor 229-699; 24-inch IPS Monitor 109-249; Portable Monitor 99-299; "
          "Curved Ultrawide Monitor 279-899"),
    _leaf("Computers | Keyboards & Mice", 8, "color",
          "Mechanical Keyboard 39-199; Wireless Mouse 12-79; Ergonomic Keyboard 29-149; "
          "Trackball Mouse 25-99; Gaming Mouse 19-149"),
    _leaf("Computers | Data Storage", 6, "",
          "Portable SSD 1TB 69-159; microSD Card 256GB 17-45; USB Flash Drive 128GB 9-29; "
          "External Hard Drive 4TB 89-159"),
    _leaf("Books | Cookbooks", 5, "", "Cookbook 12-45"),
    _leaf("Books | Science Fiction & Fantasy", 5, "", "Novel 8-30"),
    _leaf("Books | Children's Books", 5, "", "Picture Book 6-22"),
    _leaf("Books | Business & Money", 4, "", "Guide 12-40"),
    _leaf("Toys & Games | Puzzles", 7, "",
          "Jigsaw Puzzle 1000 Pieces 12-35; 3D Wooden Puzzle 15-59; Puzzle Cube 8-25; "
          "Floor Puzzle 10-30"),
    _leaf("Toys & Games | Building Toys", 7, "",
          "Magnetic Tiles Set 29-160; Building Blocks Kit 19-129; Marble Run 25-89; "
          "Engineering Kit 29-99"),
    _leaf("Toys & Games | Dolls & Accessories", 5, "",
          "Fashion Doll 12-39; Wooden Dollhouse 59-199; Baby Doll Set 19-49; "
          "Doll Stroller 18-45"),
    _leaf("Toys & Games | Stuffed Animals & Plush Toys", 5, "color",
          "Plush Bear 9-35; Plush Dinosaur 10-32; Weighted Plush Cat 19-45; Plush Octopus 9-25"),
    _leaf("Toys & Games | Learning & Education", 5, "",
          "Coding Robot 39-159; Science Kit 19-59; Magnetic Alphabet Set 9-25; "
          "Microscope Kit 29-129"),
    _leaf("Home & Kitchen | Kitchen & Dining", 12, "color",
          "Cast Iron Skillet 19-69; Chef's Knife 25-150; Pour-Over Coffee Maker 18-59; "
          "Glass Food Containers 10-Pack 24-49; Nonstick Frying Pan 19-89; "
          "Ceramic Mug Set 18-45"),
    _leaf("Home & Kitchen | Bedding", 8, "color,bed_size",
          "Cotton Sheet Set 29-149; Down Alternative Comforter 39-159; "
          "Memory Foam Pillow 25-79; Weighted Blanket 45-189"),
    _leaf("Home & Kitchen | Home Décor", 8, "color",
          "Ceramic Vase 15-69; Table Lamp 25-140; Throw Pillow Covers 2-Pack 12-35; "
          "Round Wall Mirror 35-179; Scented Candle 10-39"),
    _leaf("Home & Kitchen | Vacuum Cleaners & Floor Care", 5, "",
          "Cordless Stick Vacuum 99-520; Robot Vacuum 149-699; Handheld Vacuum 35-129; "
          "Steam Mop 49-149"),
    _leaf("Home & Kitchen | Storage & Organization", 6, "pack",
          "Stackable Storage Bins 15-49; Drawer Organizer 9-29; Over-the-Door Rack 15-45; "
          "Vacuum Storage Bags 12-29"),
    _leaf("Sports & Outdoors | Exercise & Fitness", 8, "color",
          "Adjustable Dumbbells 89-399; Yoga Mat 15-89; Resistance Bands Set 9-35; "
          "Speed Jump Rope 8-25; Foam Roller 12-45"),
    _leaf("Sports & Outdoors | Camping & Hiking", 7, "color",
          "Ultralight Tent 89-420; Sleeping Bag 39-260; Camping Lantern 15-59; "
          "Trekking Poles 25-149; Insulated Water Bottle 18-45"),
    _leaf("Sports & Outdoors | Hiking Backpacks", 4, "color",
          "Daypack 25L 29-129; Hydration Pack 35-119; Trekking Backpack 45L 89-260"),
    _leaf("Pet Supplies | Dog Supplies", 6, "",
          "Dog Harness 15-49; Chew Toy Set 9-25; Orthopedic Dog Bed 39-149; "
          "Retractable Leash 12-39"),
    _leaf("Pet Supplies | Cat Supplies", 5, "",
          "Cat Tree 49-220; Self-Cleaning Litter Box 129-549; Feather Wand Toy 5-16; "
          "Cardboard Cat Scratcher 9-29"),
)
# fmt: on

# Invented brand names: heads × tails, chosen to avoid well-known brands.
BRAND_HEADS = (
    "Nor",
    "Kel",
    "Ambr",
    "Vel",
    "Tor",
    "Dun",
    "Ost",
    "Pel",
    "Rav",
    "Tam",
    "Wyn",
    "Zel",
    "Quil",
    "Hav",
    "Oak",
    "Jun",
)
BRAND_TAILS = ("vane", "ora", "ett", "mont", "aro", "holt", "ova", "quist", "dell", "ane")
ADJECTIVES = (
    "Classic",
    "Everyday",
    "Premium",
    "Essential",
    "Deluxe",
    "Signature",
    "Original",
    "Select",
    "Plus",
    "Heritage",
)
VARIANTS = {
    "color": (
        "Black",
        "White",
        "Navy",
        "Sage Green",
        "Sand",
        "Charcoal",
        "Burgundy",
        "Sky Blue",
        "Ivory",
        "Olive",
        "Coral",
        "Slate Gray",
    ),
    "apparel_size": ("XS", "S", "M", "L", "XL", "XXL"),
    "shoe_size": ("Size 6", "Size 7", "Size 8", "Size 9", "Size 10", "Size 11", "Size 12"),
    "bed_size": ("Twin", "Full", "Queen", "King"),
    "shade": ("Rosewood", "Nude Beige", "Warm Sand", "Berry", "Cocoa", "Coral Pink"),
    "volume": ("1 fl oz", "1.7 fl oz", "3.4 fl oz", "8 fl oz", "16 fl oz"),
    "count": ("60 Count", "90 Count", "120 Count", "180 Count"),
    "pack": ("Pack of 2", "Pack of 3", "Pack of 6", "Value Pack"),
}
BOOK_TOPICS = (
    "Silver Harbor",
    "the Quiet Orchard",
    "Seven Lanterns",
    "the Northern Tide",
    "Paper Moons",
    "the Glass Forest",
    "Copper Skies",
    "the Last Ferry",
    "Small Kitchens",
    "Slow Mornings",
    "the Long Table",
    "Clear Numbers",
    "Steady Growth",
    "the Brave Little Fox",
)
BOOK_TITLES = {
    "Cookbook": ("Recipes from {topic}", "Cooking Through {topic}"),
    "Novel": ("The Secret of {topic}: A Novel", "Beyond {topic}: Book {n} of the Saga"),
    "Picture Book": ("Goodnight, {topic}", "A Day at {topic}"),
    "Guide": ("{topic}: A Practical Guide", "Lessons from {topic}"),
}
BOOK_FORMATS = ("Paperback", "Hardcover")
AUTHORS = (
    "Mara Ellison",
    "Jun Park",
    "Theo Lindqvist",
    "Ada Moreno",
    "Sol Kim",
    "Iris Vance",
    "Owen Hartley",
    "Nina Okafor",
)
BOUGHT_LAST_MONTH = (50, 100, 100, 200, 300, 400, 500, 600, 700, 900, 1000, 2000, 3000)
CENT_ENDINGS = ("99", "99", "99", "99", "95", "95", "49", "00")


@dataclass(frozen=True)
class SynthFiles:
    products: Path
    categories: Path
    count: int


def brands() -> list[str]:
    """Fictional brand names built from syllables (deterministic order)."""
    return [head + tail for head in BRAND_HEADS for tail in BRAND_TAILS]


def _price(rng: random.Random, low: float, high: float) -> Decimal:
    """A shelf-like USD price, log-uniform in [low, high], mostly ending in .99 or .95."""
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    dollars = max(1, int(value))
    cents = rng.choice(CENT_ENDINGS) if rng.random() < 0.8 else f"{rng.randrange(100):02d}"
    return Decimal(f"{dollars}.{cents}")


def _title(rng: random.Random, leaf: Leaf, item: Item, brand_names: list[str]) -> str:
    if item.noun in BOOK_TITLES:
        topic = rng.choice(BOOK_TOPICS)
        name = rng.choice(BOOK_TITLES[item.noun]).format(topic=topic, n=rng.randint(1, 4))
        return f"{name} ({rng.choice(BOOK_FORMATS)}) by {rng.choice(AUTHORS)}"
    title = f"{rng.choice(brand_names)} {rng.choice(ADJECTIVES)} {item.noun}"
    for group in leaf.variants:
        if rng.random() < 0.7:
            title += f", {rng.choice(VARIANTS[group])}"
    return title


def product_rows(
    *, count: int, seed: int, asin_prefix: str = "GS", unknown_price_percent: float = 0
):
    """Yield ``count`` product rows (dicts in the 2023 layout), deterministic for a seed.

    ``unknown_price_percent`` of the rows get price ``0`` (the real feed's "unknown"),
    which the importer skips with a reason, as it does with the real data.
    """
    width = 10 - len(asin_prefix)
    if count > 10**width:
        raise ValueError(f"{count} products do not fit in ASINs with prefix {asin_prefix!r}")
    rng = random.Random(seed)
    brand_names = brands()
    weights = [leaf.weight for leaf in TAXONOMY]
    for index in range(count):
        category_id = rng.choices(range(len(TAXONOMY)), weights=weights)[0] + 1
        leaf = TAXONOMY[category_id - 1]
        item = rng.choice(leaf.items)
        price = _price(rng, item.price_low, item.price_high)
        list_price = Decimal("0.0")
        if rng.random() < 0.25:  # a quarter of real listings show a higher list price
            list_price = (price * Decimal(str(rng.uniform(1.1, 1.6)))).quantize(Decimal("1"))
            list_price -= Decimal("0.01")
        if rng.random() * 100 < unknown_price_percent:
            price = Decimal("0.0")
        reviews = 0 if rng.random() < 0.3 else int(math.exp(rng.uniform(0, 10)))
        stars = 0.0 if reviews == 0 else round(min(5.0, rng.triangular(2.8, 5.0, 4.6)), 1)
        bought = rng.choice(BOUGHT_LAST_MONTH) if rng.random() < 0.25 else 0
        yield {
            "asin": f"{asin_prefix}{index + 1:0{width}d}",
            "title": _title(rng, leaf, item, brand_names),
            "imgUrl": "",
            "productURL": "",
            "stars": f"{stars:.1f}",
            "reviews": str(reviews),
            "price": str(price),
            "listPrice": str(list_price),
            "category_id": str(category_id),
            "isBestSeller": "True" if rng.random() < 0.01 else "False",
            "boughtInLastMonth": str(bought),
        }


def write_catalog(
    *,
    out_dir: Path,
    count: int,
    seed: int,
    name: str = "synthetic",
    asin_prefix: str = "GS",
    unknown_price_percent: float = 0,
) -> SynthFiles:
    """Write ``<name>-products.csv`` and ``<name>-categories.csv`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    categories = out_dir / f"{name}-categories.csv"
    products = out_dir / f"{name}-products.csv"
    with categories.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CATEGORIES_HEADER)
        for category_id, leaf in enumerate(TAXONOMY, start=1):
            writer.writerow([category_id, leaf.path])
    with products.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=PRODUCTS_HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            product_rows(
                count=count,
                seed=seed,
                asin_prefix=asin_prefix,
                unknown_price_percent=unknown_price_percent,
            )
        )
    return SynthFiles(products=products, categories=categories, count=count)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="products (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--name", default="synthetic", help="file name prefix")
    parser.add_argument("--asin-prefix", default="GS", help="ASIN prefix (default GS)")
    parser.add_argument(
        "--unknown-price-percent",
        type=float,
        default=0,
        help="share of rows with price 0 (unknown), as in the real feed",
    )
    args = parser.parse_args(argv)
    files = write_catalog(
        out_dir=args.out,
        count=args.count,
        seed=args.seed,
        name=args.name,
        asin_prefix=args.asin_prefix,
        unknown_price_percent=args.unknown_price_percent,
    )
    print(f"wrote {files.count} products to {files.products} and categories to {files.categories}")


if __name__ == "__main__":
    main()

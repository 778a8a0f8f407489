#!/usr/bin/env python3
"""Writes the ILLUSTRATIVE pipe network of the example county (issue 13, gateway/README.md
"Pipe network"): tools/sim/county/haiyan-network.geojson.

Made up, like the registry it builds on (tools/sim/county/haiyan-registry.toml): the 38 terminals
at their registry coordinates, 101 pump stations HY-PS-001..HY-PS-101 spread over the terminals'
catchments (2 or 3 each), each draining by a pressure main to its terminal or to an inspection
well of the terminal's trunk sewer; village collection points (30-300 households) draining by
gravity sewers through inspection wells to a pump station or to the terminal. Gravity sewers
200-400 mm (PVC-U, HDPE), pressure mains 75-160 mm (HDPE, ductile iron), installed 2015-2022.
Inspection wells are placed every ~120-180 m (real manholes are closer: illustrative, keeps the
file small). Stdlib only, seeded: the same command writes the same file.

It also writes the pump stations as registry entries of kind "pump_station" (issue 13 contract)
into the registry itself: everything from the line PUMP_STATIONS_MARKER on is rewritten, the
terminals above it are kept byte for byte (the network is built from them only). With
--registry-out the updated registry goes to another file (the reproducibility test).

Usage: tools/county_network.py [--registry FILE] [--out FILE] [--registry-out FILE] [--seed N]
"""
import argparse
import json
import math
import pathlib
import random
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
M_PER_DEG_LAT = 111_320.0


def offset(lat, lon, east_m, north_m):
    """The point east_m / north_m metres from (lat, lon) (local flat approximation, < 5 km)."""
    return (lat + north_m / M_PER_DEG_LAT,
            lon + east_m / (M_PER_DEG_LAT * math.cos(math.radians(lat))))


def dist_m(a, b):
    dy = (b[0] - a[0]) * M_PER_DEG_LAT
    dx = (b[1] - a[1]) * M_PER_DEG_LAT * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def r6(x):
    return round(x, 6)  # ~0.1 m: far inside the checker's 5 m end tolerance


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.features = []
        self.pos = {}  # node id -> (lat, lon)
        self.seg_no = 0

    def node(self, nid, kind, lat_lon, **props):
        self.pos[nid] = lat_lon
        p = {"id": nid, "kind": kind}
        p.update({k: v for k, v in props.items() if v is not None})
        self.features.append({"type": "Feature",
                              "geometry": {"type": "Point", "coordinates": [r6(lat_lon[1]), r6(lat_lon[0])]},
                              "properties": p})

    def segment(self, sid, a, b, flow, diameter_mm, material, bends=0):
        pa, pb = self.pos[a], self.pos[b]
        pts = [pa]
        for k in range(1, bends + 1):  # a pressure main follows roads: a few jittered vertices
            t = k / (bends + 1)
            lat = pa[0] + (pb[0] - pa[0]) * t
            lon = pa[1] + (pb[1] - pa[1]) * t
            pts.append(offset(lat, lon, self.rng.uniform(-60, 60), self.rng.uniform(-60, 60)))
        pts.append(pb)
        self.features.append({"type": "Feature",
                              "geometry": {"type": "LineString",
                                           "coordinates": [[r6(p[1]), r6(p[0])] for p in pts]},
                              "properties": {"id": sid, "kind": "segment", "from": a, "to": b,
                                             "diameter_mm": diameter_mm, "material": material, "flow": flow,
                                             "install_year": self.rng.randint(2015, 2022)}})

    def gravity_chain(self, prefix, head, outlet, diameter_mm, town, wells):
        """Gravity sewer from node `head` to node `outlet` through inspection wells every ~150 m;
        returns the well ids (upstream first)."""
        ph, po = self.pos[head], self.pos[outlet]
        n = max(1, int(dist_m(ph, po) / self.rng.uniform(120, 180)))
        material = self.rng.choice(["PVC-U", "PVC-U", "HDPE"])
        prev = head
        made = []
        for k in range(1, n):
            t = k / n
            lat = ph[0] + (po[0] - ph[0]) * t
            lon = ph[1] + (po[1] - ph[1]) * t
            wid = f"MH-{prefix}-{len(wells) + 1:04d}"
            wells.append(wid)
            self.node(wid, "inspection_well", offset(lat, lon, self.rng.uniform(-15, 15), self.rng.uniform(-15, 15)),
                      town=town)
            self.seg_no += 1
            self.segment(f"GS-{prefix}-{self.seg_no:05d}", prev, wid, "gravity", diameter_mm, material)
            prev = wid
            made.append(wid)
        self.seg_no += 1
        self.segment(f"GS-{prefix}-{self.seg_no:05d}", prev, outlet, "gravity", diameter_mm, material)
        return made


def build(registry_path, seed):
    rng = random.Random(seed)
    terminals = [t for t in tomllib.loads(registry_path.read_text(encoding="utf-8"))["terminal"]
                 if t.get("kind", "terminal") == "terminal"]
    assert len(terminals) == 38, len(terminals)
    # 101 pump stations over 38 terminals: 25 terminals get 3, 13 get 2 (chosen by the seed).
    counts = [3] * 25 + [2] * 13
    rng.shuffle(counts)
    b = Builder(rng)
    ps_no = 0
    for t, n_ps in zip(terminals, counts):
        tid, town = t["id"], t["town"]
        prefix = tid.removeprefix("HY-")  # e.g. WY-001
        town_short = town.split(" ")[0]
        tpos = (t["latitude"], t["longitude"])
        b.node(tid, "terminal", tpos, name=t["name"], site_id=tid, town=town)
        wells = []
        village_no = 0

        def villages_into(outlet, n_villages, near_m):
            nonlocal village_no
            op = b.pos[outlet]
            for _ in range(n_villages):
                village_no += 1
                village = f"{town_short} {prefix} village {village_no} (illustrative)"
                ang = rng.uniform(0, 2 * math.pi)
                d = rng.uniform(*near_m)
                cp = f"CP-{prefix}-{village_no:02d}"
                b.node(cp, "collection_point", offset(op[0], op[1], d * math.cos(ang), d * math.sin(ang)),
                       name=f"{village} collection point", village=village,
                       households=rng.randint(30, 300), town=town)
                chain = b.gravity_chain(prefix, cp, outlet, rng.choice([200, 250, 300]), town, wells)
                # A second hamlet of the same village joins the sewer halfway by a lateral.
                if chain and rng.random() < 0.6:
                    j = chain[len(chain) // 2]
                    jp = b.pos[j]
                    a2 = ang + rng.choice([-1, 1]) * math.pi / 2
                    d2 = rng.uniform(250, 600)
                    cp2 = f"CP-{prefix}-{village_no:02d}B"
                    b.node(cp2, "collection_point", offset(jp[0], jp[1], d2 * math.cos(a2), d2 * math.sin(a2)),
                           name=f"{village} collection point B", village=village,
                           households=rng.randint(30, 300), town=town)
                    b.gravity_chain(prefix, cp2, j, 200, town, wells)

        # The terminal's trunk sewer: from a well ~1.5 km out, through wells, into the terminal.
        ang = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(1200, 2000)
        trunk_head = f"MH-{prefix}-T000"
        b.node(trunk_head, "inspection_well", offset(tpos[0], tpos[1], d * math.cos(ang), d * math.sin(ang)), town=town)
        trunk = [trunk_head] + b.gravity_chain(prefix, trunk_head, tid, rng.choice([300, 400]), town, wells)
        villages_into(trunk_head, 1, (500, 1200))
        villages_into(tid, rng.randint(1, 2), (600, 1500))
        for _ in range(n_ps):
            ps_no += 1
            ps = f"HY-PS-{ps_no:03d}"
            ang = rng.uniform(0, 2 * math.pi)
            d = rng.uniform(1800, 4500)
            b.node(ps, "pump_station", offset(tpos[0], tpos[1], d * math.cos(ang), d * math.sin(ang)),
                   name=f"{town_short} pump station {ps_no}", site_id=ps, town=town)
            # Drains by a pressure main to the terminal, or to a well of the trunk sewer (downstream).
            outlet = tid if rng.random() < 0.6 else rng.choice(trunk)
            b.segment(f"PM-{ps_no:03d}", ps, outlet, "pressure", rng.choice([75, 90, 110, 125, 160]),
                      rng.choice(["HDPE", "HDPE", "ductile iron"]), bends=rng.randint(2, 5))
            villages_into(ps, rng.randint(2, 4), (700, 2200))
    assert ps_no == 101, ps_no
    return b.features


def toml_str(s):
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


# The registry's pump-station part starts at this line; the generator rewrites it from there on.
PUMP_STATIONS_MARKER = "# --- Pump stations (kind = \"pump_station\"): written by tools/county_network.py; do not edit by hand ---"


def pump_station_entries(features, seed):
    """The pump stations as registry entries (kind = "pump_station"), with the node each drains to."""
    drains = {f["properties"]["from"]: f["properties"]["to"] for f in features
              if f["properties"]["kind"] == "segment" and f["properties"]["flow"] == "pressure"}
    out = [PUMP_STATIONS_MARKER,
           "# Haiyan County: 101 sewage pump stations (issue 13). ILLUSTRATIVE DATA (seed %d), made up with" % seed,
           "# haiyan-network.geojson: ids, names, coordinates and what each station drains to. A pump station",
           "# needs id, kind, name, town, latitude, longitude, report_interval_s (no design capacity, no",
           "# discharge grade); `drains_to` in each comment is the network node its pressure main discharges into.",
           "# Each wet well's high-level alarm (wet_well_high_m) is 1.8 m: above the standby pump's start (1.5 m)",
           "# and 0.2 m below the emergency overflow's invert (2.0 m), the wells sewage-sim sizes (pump_station.hpp);",
           "# the gateway's default (2.5 m) is above that overflow, so an overflowing well would never alarm.",
           ""]
    for f in features:
        p = f["properties"]
        if p["kind"] != "pump_station":
            continue
        lon, lat = f["geometry"]["coordinates"]
        out += ["[[terminal]]  # drains_to = %s" % toml_str(drains[p["id"]]),
                "id = %s" % toml_str(p["id"]), 'kind = "pump_station"', "name = %s" % toml_str(p["name"]),
                "town = %s" % toml_str(p["town"]), "latitude = %.6f" % lat, "longitude = %.6f" % lon,
                "report_interval_s = 60", "[terminal.pump_station]", "wet_well_high_m = 1.8", ""]
    return "\n".join(out)


def registry_with_pump_stations(registry_text, features, seed):
    """`registry_text` up to the marker line (the terminals, kept as they are) + the pump stations."""
    head = registry_text.split(PUMP_STATIONS_MARKER, 1)[0].rstrip("\n")
    return head + "\n\n" + pump_station_entries(features, seed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--registry", type=pathlib.Path, default=HERE / "sim/county/haiyan-registry.toml")
    ap.add_argument("--out", type=pathlib.Path, default=HERE / "sim/county/haiyan-network.geojson")
    ap.add_argument("--registry-out", type=pathlib.Path,
                    help="write the registry with its pump stations here (default: rewrite --registry)")
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args()
    features = build(a.registry, a.seed)
    doc_head = {
        "type": "FeatureCollection",
        "sewage_network": {
            "version": 1,
            "illustrative": True,
            "source": ("ILLUSTRATIVE DATA generated by tools/county_network.py (seed %d) around the terminals of "
                       "haiyan-registry.toml: pump stations, wells, villages, households and pipes are made up. "
                       "Replace with the county's GIS export before operational use." % a.seed),
        },
    }
    # One feature per line: readable diffs when the generator changes.
    head = json.dumps(doc_head, ensure_ascii=False)[:-1]
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    a.out.write_text(head + ', "features": [\n' + ",\n".join(lines) + "\n]}\n", encoding="utf-8")
    registry_out = a.registry_out or a.registry
    registry_out.write_text(registry_with_pump_stations(a.registry.read_text(encoding="utf-8"), features, a.seed),
                            encoding="utf-8")
    kinds = {}
    for f in features:
        k = f["properties"]["kind"]
        kinds[k] = kinds.get(k, 0) + 1
    print(f"{a.out}: {len(features)} features {dict(sorted(kinds.items()))}")


if __name__ == "__main__":
    main()

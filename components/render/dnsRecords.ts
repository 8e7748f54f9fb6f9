/** One DNS record inside a zone, named the way Alidns wants it: relative to the zone. */
export interface ZoneRecord {
    /** The full name clients use, e.g. `registry.example.com`. */
    hostname: string;
    /** The record name relative to the zone: `registry`, or `@` for the zone apex. */
    rr: string;
}

/** `registry.example.com` in zone `example.com` is `registry`; the apex itself is `@`. */
export function relativeRecordName(hostname: string, zone: string): string {
    const name = hostname.toLowerCase().replace(/\.$/, "");
    const apex = zone.toLowerCase().replace(/\.$/, "");
    if (name === apex) return "@";
    if (!name.endsWith(`.${apex}`)) throw new Error(`${hostname} is not inside the DNS zone ${zone}`);
    return name.slice(0, -(apex.length + 1));
}

/** One record per distinct name, in the order given (the registry's names, then the UI's). */
export function zoneRecords(hostnames: string[], zone: string): ZoneRecord[] {
    const distinct = [...new Set(hostnames.map((h) => h.toLowerCase()))];
    return distinct.map((hostname) => ({ hostname, rr: relativeRecordName(hostname, zone) }));
}

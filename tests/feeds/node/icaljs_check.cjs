// Parse each .ics file named on the command line with Mozilla's ical.js (Thunderbird's parser) and
// print, per file, {uid: [start, end]} as Unix seconds, resolving TZIDs with the feed's own VTIMEZONEs.
// A parse error prints {"error": message} for that file. Usage: node icaljs_check.cjs a.ics b.ics
"use strict";
const fs = require("fs");
const ICAL = require("ical.js");

const out = {};
for (const file of process.argv.slice(2)) {
  try {
    const root = new ICAL.Component(ICAL.parse(fs.readFileSync(file, "utf8")));
    if (root.name !== "vcalendar") throw new Error("not a VCALENDAR: " + root.name);
    for (const vtz of root.getAllSubcomponents("vtimezone")) {
      ICAL.TimezoneService.register(new ICAL.Timezone(vtz));
    }
    const events = {};
    for (const vevent of root.getAllSubcomponents("vevent")) {
      const event = new ICAL.Event(vevent);
      if (!event.uid) throw new Error("VEVENT without UID");
      if (!vevent.getFirstPropertyValue("dtstamp")) throw new Error("VEVENT without DTSTAMP " + event.uid);
      const zone = event.startDate.zone;
      if (!event.startDate.isDate && (!zone || zone.tzid === "floating")) throw new Error("floating time in " + event.uid);
      events[event.uid] = [event.startDate.toUnixTime(), event.endDate.toUnixTime(), event.startDate.isDate, event.summary];
    }
    out[file] = { events, name: root.getFirstPropertyValue("x-wr-calname") };
  } catch (error) {
    out[file] = { error: String(error && error.message ? error.message : error) };
  }
}
process.stdout.write(JSON.stringify(out));

// Expand every event of one .ics file with Mozilla's ical.js (Thunderbird's parser) in a window and print
// [[uid, start, end, summary], ...]: starts and ends as "YYYY-MM-DD" for dates, else Unix seconds. Overridden
// instances (RECURRENCE-ID) are related to their series as Thunderbird does; EXDATE/RDATE are ical.js's own.
// Usage: node icaljs_occurrences.cjs file.ics <window start, Unix seconds> <window end, Unix seconds>
"use strict";
const fs = require("fs");
const ICAL = require("ical.js");

const [file, lowText, highText] = process.argv.slice(2);
const low = Number(lowText);
const high = Number(highText);
const root = new ICAL.Component(ICAL.parse(fs.readFileSync(file, "utf8")));
for (const vtz of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(vtz));
}
const masters = new Map();
const exceptions = [];
for (const vevent of root.getAllSubcomponents("vevent")) {
  const event = new ICAL.Event(vevent);
  if (event.isRecurrenceException()) exceptions.push(event);
  else masters.set(event.uid, event);
}
for (const exception of exceptions) {
  const master = masters.get(exception.uid);
  if (!master) throw new Error("override without its series: " + exception.uid);
  master.relateException(exception);
}
const value = (time) => (time.isDate ? time.toString() : time.toUnixTime());
const found = [];
const add = (uid, start, end, summary) => {
  // a date is read at midnight UTC for the window test, as the other parsers' results are
  const s = start.isDate ? Date.UTC(start.year, start.month - 1, start.day) / 1000 : start.toUnixTime();
  const e = end.isDate ? Date.UTC(end.year, end.month - 1, end.day) / 1000 : end.toUnixTime();
  if (s < high && e > low) found.push([uid, value(start), value(end), summary]);
};
for (const event of masters.values()) {
  if (!event.isRecurring()) {
    add(event.uid, event.startDate, event.endDate, event.summary);
    continue;
  }
  const iterator = event.iterator();
  for (let next = iterator.next(), n = 0; next && n < 10000; next = iterator.next(), n++) {
    const start = next.isDate ? Date.UTC(next.year, next.month - 1, next.day) / 1000 : next.toUnixTime();
    if (start >= high + 86400 * 7) break;
    const details = event.getOccurrenceDetails(next);
    add(event.uid, details.startDate, details.endDate, details.item.summary);
  }
}
process.stdout.write(JSON.stringify(found));

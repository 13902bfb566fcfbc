// Dates and (weeks, days) pairs as MedCalc-Bench answers write them.
const MONTHS: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  sept: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};
const MONTH_WORD = String.raw`(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?`;

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/**
 * The last date written in the text, as MM/DD/YYYY. Reads M/D/YYYY (US order, as the dataset
 * writes dates; D/M/YYYY only when the first part cannot be a month), YYYY-MM-DD and dates with
 * month names ("September 23, 2014", "23 Sep 2014").
 */
export function normalizeDate(text: string): string | null {
  const found: Array<{ index: number; y: number; m: number; d: number }> = [];
  for (const x of text.matchAll(/(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)/g)) {
    let m = +x[1]!;
    let d = +x[2]!;
    if (m > 12 && d <= 12) [m, d] = [d, m];
    found.push({ index: x.index!, y: +x[3]!, m, d });
  }
  for (const x of text.matchAll(/(?<!\d)(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})(?!\d)/g)) {
    found.push({ index: x.index!, y: +x[1]!, m: +x[2]!, d: +x[3]! });
  }
  for (const x of text.matchAll(new RegExp(String.raw`\b${MONTH_WORD}\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b`, "gi"))) {
    found.push({ index: x.index!, y: +x[3]!, m: MONTHS[x[1]!.toLowerCase().slice(0, 3)]!, d: +x[2]! });
  }
  for (const x of text.matchAll(new RegExp(String.raw`\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?${MONTH_WORD},?\s+(\d{4})\b`, "gi"))) {
    found.push({ index: x.index!, y: +x[3]!, m: MONTHS[x[2]!.toLowerCase().slice(0, 3)]!, d: +x[1]! });
  }
  const valid = found.filter((f) => validDate(f.y, f.m, f.d)).sort((a, b) => a.index - b.index);
  const last = valid[valid.length - 1];
  return last ? `${pad2(last.m)}/${pad2(last.d)}/${last.y}` : null;
}

/**
 * A gestational age as [weeks, days]: "(4 weeks, 3 days)", "('4 weeks', '3 days')", "(4, 3)",
 * "4 weeks and 3 days", "39+2 weeks", "4 weeks" (0 days) or "6 days" (0 weeks).
 */
export function parseWeeksDays(text: string): [number, number] | null {
  const t = text.toLowerCase();
  const last = (re: RegExp): RegExpMatchArray | undefined => [...t.matchAll(re)].pop();
  let m = last(/(\d+)\s*(?:weeks?|wks?|w)\b[\s'",;:/+&]*(?:and\s*)?(\d+)\s*(?:days?|d)\b/g);
  if (m) return [+m[1]!, +m[2]!];
  m = last(/[([]\s*['"]?\s*(\d+)\s*(?:weeks?)?\s*['"]?\s*,\s*['"]?\s*(\d+)\s*(?:days?)?\s*['"]?\s*[)\]]/g);
  if (m) return [+m[1]!, +m[2]!];
  m = last(/(\d+)\s*\+\s*(\d)\s*(?:weeks?|wks?)\b/g);
  if (m) return [+m[1]!, +m[2]!];
  m = last(/(\d+)\s*(?:weeks?|wks?)\b/g);
  if (m) return [+m[1]!, 0];
  m = last(/(\d+)\s*days?\b/g);
  if (m) return [Math.floor(+m[1]! / 7), +m[1]! % 7];
  return null;
}

// Counts as the interface writes them: "1 sentence", "2 sentences".
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

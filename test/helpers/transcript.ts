/**
 * The transcripts of a documentation page: in its ```sh blocks, every command line (one the
 * caller's pattern picks) with the `# …` lines after it, which are what the command must print.
 * The docs tests run them as a reader would paste them.
 */
export interface Step {
  command: string;
  expected: string[];
}

export function transcript(markdown: string, isCommand: (line: string) => boolean): Step[] {
  const steps: Step[] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    let current: Step | null = null;
    for (const line of block[1].split("\n")) {
      if (isCommand(line)) {
        current = { command: line, expected: [] };
        steps.push(current);
      } else if (line.startsWith("# ") && current !== null) current.expected.push(line.slice(2));
      else current = null;
    }
  }
  return steps;
}

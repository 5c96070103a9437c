export function parseUmask(text: string): i32 { return text.length; }

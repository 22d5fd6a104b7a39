/** Greets someone in English. */
export function greet(name) {
  return `Hello, ${name}!`;
}

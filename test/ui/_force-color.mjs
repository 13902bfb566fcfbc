// Imported first by tests that check colours: Ink draws none when it thinks the output is not a terminal.
process.env.FORCE_COLOR = "1";

"""Everything that reaches stdout, stderr or a report file: emit, report rendering, documents."""

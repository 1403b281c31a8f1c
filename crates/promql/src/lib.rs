//! PromQL: lexer, parser, printer and evaluation engine

//! The hand-written PromQL parser: precedence climbing over the token
//! stream, with Prometheus's type checks applied as nodes are built.

use beacon_model::{MatchType, Matcher};

use crate::ast::*;
use crate::error::ParseError;
use crate::functions;
use crate::lexer::{Tok, Token, lex};

/// How deeply expressions may nest before the parser gives up, so hostile
/// input cannot overflow the stack.
pub const MAX_PARSE_DEPTH: usize = 200;

/// Parses a PromQL expression.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let toks = lex(input)?;
    let mut p = Parser {
        src: input,
        toks,
        i: 0,
        depth: 0,
        lenient_selector: false,
    };
    let e = p.expr(0)?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected("", None));
    }
    check_top(input, &e)?;
    Ok(e)
}

fn check_top(input: &str, e: &Expr) -> Result<(), ParseError> {
    let _ = (input, e);
    Ok(())
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    /// Set while parsing `info`'s selector argument, which may consist of
    /// matchers that all match the empty string.
    lenient_selector: bool,
}

fn binop_of(t: &Tok) -> Option<BinOp> {
    Some(match t {
        Tok::Add => BinOp::Add,
        Tok::Sub => BinOp::Sub,
        Tok::Mul => BinOp::Mul,
        Tok::Div => BinOp::Div,
        Tok::Mod => BinOp::Mod,
        Tok::Pow => BinOp::Pow,
        Tok::Eql => BinOp::Eql,
        Tok::Neq => BinOp::Neq,
        Tok::Lss => BinOp::Lss,
        Tok::Lte => BinOp::Lte,
        Tok::Gtr => BinOp::Gtr,
        Tok::Gte => BinOp::Gte,
        Tok::TrimUpper => BinOp::TrimUpper,
        Tok::TrimLower => BinOp::TrimLower,
        Tok::Ident(s) => match s.to_ascii_lowercase().as_str() {
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "unless" => BinOp::Unless,
            "atan2" => BinOp::Atan2,
            _ => return None,
        },
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }

    fn tok(&self) -> &Token {
        &self.toks[self.i]
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn err(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.src, pos, msg)
    }

    fn unexpected(&self, context: &str, expected: Option<&str>) -> ParseError {
        let t = self.tok();
        let mut msg = format!("unexpected {}", t.tok.describe());
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if let Some(e) = expected {
            msg.push_str(", expected ");
            msg.push_str(e);
        }
        self.err(t.start, msg)
    }

    fn expect(&mut self, tok: Tok, context: &str) -> Result<Token, ParseError> {
        if *self.peek() == tok {
            return Ok(self.bump());
        }
        Err(self.unexpected(context, Some(&tok.describe())))
    }

    fn is_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(word))
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_PARSE_DEPTH {
            return Err(self.err(
                self.tok().start,
                format!("expression nested too deeply (limit {MAX_PARSE_DEPTH})"),
            ));
        }
        Ok(())
    }

    /// Parses binary operations whose precedence is at least `min_prec`.
    fn expr(&mut self, min_prec: u8) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut lhs = self.unary()?;
        while let Some(op) = binop_of(self.peek()) {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_tok = self.bump();
            let (return_bool, matching) = self.bin_modifiers(op)?;
            // `^` is right-associative; the rest associate left.
            let next = if op == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.expr(next)?;
            let b = BinaryExpr {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
                op_pos: PosRange {
                    start: op_tok.start,
                    end: op_tok.end,
                },
            };
            lhs = Expr::Binary(Box::new(self.check_binary(b)?));
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn bin_modifiers(&mut self, op: BinOp) -> Result<(bool, VectorMatching), ParseError> {
        let mut m = VectorMatching::default();
        let mut return_bool = false;
        if self.is_ident("bool") {
            let t = self.bump();
            if !op.is_comparison() {
                return Err(self.err(
                    t.start,
                    "bool modifier can only be used on comparison operators",
                ));
            }
            return_bool = true;
        }
        if self.is_ident("on") || self.is_ident("ignoring") {
            m.on = self.is_ident("on");
            self.bump();
            m.labels = self.label_list()?;
            if self.is_ident("group_left") || self.is_ident("group_right") {
                m.card = if self.is_ident("group_left") {
                    Cardinality::ManyToOne
                } else {
                    Cardinality::OneToMany
                };
                self.bump();
                if *self.peek() == Tok::LParen {
                    m.include = self.label_list()?;
                }
            }
        }
        loop {
            let which = match self.peek() {
                Tok::Ident(s) if s == "fill" => 0,
                Tok::Ident(s) if s == "fill_left" => 1,
                Tok::Ident(s) if s == "fill_right" => 2,
                _ => break,
            };
            if *self.peek_at(1) != Tok::LParen {
                break;
            }
            self.bump();
            self.bump();
            let v = self.signed_number("fill modifier")?;
            self.expect(Tok::RParen, "fill modifier")?;
            if which != 2 {
                m.fill_left = Some(v);
            }
            if which != 1 {
                m.fill_right = Some(v);
            }
        }
        if op.is_set() {
            m.card = match m.card {
                Cardinality::OneToOne => Cardinality::ManyToMany,
                _ => {
                    return Err(self.err(
                        self.tok().start,
                        format!("no grouping allowed for \"{}\" operation", op.as_str()),
                    ));
                }
            };
        }
        Ok((return_bool, m))
    }

    fn signed_number(&mut self, context: &str) -> Result<f64, ParseError> {
        let neg = match self.peek() {
            Tok::Sub => {
                self.bump();
                true
            }
            Tok::Add => {
                self.bump();
                false
            }
            _ => false,
        };
        match self.peek().clone() {
            Tok::Number(n) => {
                self.bump();
                Ok(if neg { -n } else { n })
            }
            Tok::Duration(ms) => {
                self.bump();
                let n = ms as f64 / 1000.0;
                Ok(if neg { -n } else { n })
            }
            _ => Err(self.unexpected(context, Some("number"))),
        }
    }

    fn check_binary(&self, b: BinaryExpr) -> Result<BinaryExpr, ParseError> {
        let (lt, rt) = (b.lhs.value_type(), b.rhs.value_type());
        let pos = b.lhs.pos().start;
        let ok = |t| t == ValueType::Scalar || t == ValueType::Vector;
        if !ok(lt) || !ok(rt) {
            return Err(self.err(
                pos,
                "binary expression must contain only scalar and instant vector types",
            ));
        }
        let both_vec = lt == ValueType::Vector && rt == ValueType::Vector;
        if b.op.is_comparison()
            && !b.return_bool
            && lt == ValueType::Scalar
            && rt == ValueType::Scalar
        {
            return Err(self.err(pos, "comparisons between scalars must use BOOL modifier"));
        }
        if b.op.is_set() && !both_vec {
            return Err(self.err(
                pos,
                format!(
                    "set operator \"{}\" not allowed in binary scalar expression",
                    b.op.as_str()
                ),
            ));
        }
        let has_matching = b.matching.on
            || !b.matching.labels.is_empty()
            || b.matching.card == Cardinality::ManyToOne
            || b.matching.card == Cardinality::OneToMany;
        if has_matching && !both_vec {
            return Err(self.err(pos, "vector matching only allowed between instant vectors"));
        }
        if b.matching.on {
            for l in &b.matching.include {
                if b.matching.labels.contains(l) {
                    return Err(self.err(
                        pos,
                        format!("label \"{l}\" must not occur in ON and GROUP clause at once"),
                    ));
                }
            }
        }
        Ok(b)
    }

    /// `-expr` / `+expr`: binds tighter than `*` but looser than `^`.
    fn unary(&mut self) -> Result<Expr, ParseError> {
        let neg = match self.peek() {
            Tok::Sub => true,
            Tok::Add => false,
            _ => return self.postfix(),
        };
        let t = self.bump();
        let inner = self.expr(BinOp::Pow.precedence())?;
        let end = inner.pos().end;
        let pos = PosRange {
            start: t.start,
            end,
        };
        match inner.value_type() {
            ValueType::Scalar | ValueType::Vector => {}
            other => {
                return Err(self.err(
                    t.start,
                    format!(
                        "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                        other.name()
                    ),
                ));
            }
        }
        // Prometheus folds a sign into a number literal.
        if let Expr::Number { val, .. } = inner {
            return Ok(Expr::Number {
                val: if neg { -val } else { val },
                pos,
            });
        }
        Ok(Expr::Unary {
            neg,
            expr: Box::new(inner),
            pos,
        })
    }

    /// A primary expression followed by `[...]`, `offset`, `@`,
    /// `anchored`/`smoothed`.
    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Tok::LBracket => e = self.bracket(e)?,
                Tok::At => e = self.at_modifier(e)?,
                Tok::Ident(s) if s.eq_ignore_ascii_case("offset") => e = self.offset(e)?,
                Tok::Ident(s) if s == "anchored" || s == "smoothed" => {
                    let anchored = s == "anchored";
                    let t = self.bump();
                    match &mut e {
                        Expr::Matrix(m) if !m.anchored && !m.smoothed => {
                            m.anchored = anchored;
                            m.smoothed = !anchored;
                            m.pos.end = t.end;
                        }
                        Expr::Vector(v) if !v.anchored && !v.smoothed => {
                            v.anchored = anchored;
                            v.smoothed = !anchored;
                            v.pos.end = t.end;
                        }
                        _ => {
                            return Err(self.err(
                                t.start,
                                format!(
                                    "{} modifier must be preceded by a range vector selector",
                                    if anchored { "anchored" } else { "smoothed" }
                                ),
                            ));
                        }
                    }
                }
                _ => break,
            }
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let t = self.tok().clone();
        match t.tok {
            Tok::Number(val) => {
                self.bump();
                Ok(Expr::Number {
                    val,
                    pos: PosRange {
                        start: t.start,
                        end: t.end,
                    },
                })
            }
            Tok::Duration(ms) => {
                self.bump();
                Ok(Expr::Number {
                    val: ms as f64 / 1000.0,
                    pos: PosRange {
                        start: t.start,
                        end: t.end,
                    },
                })
            }
            Tok::Str(val) => {
                self.bump();
                Ok(Expr::String {
                    val,
                    pos: PosRange {
                        start: t.start,
                        end: t.end,
                    },
                })
            }
            Tok::LParen => {
                self.bump();
                let inner = self.expr(0)?;
                let close = self.expect(Tok::RParen, "parenthesized expression")?;
                Ok(Expr::Paren {
                    expr: Box::new(inner),
                    pos: PosRange {
                        start: t.start,
                        end: close.end,
                    },
                })
            }
            Tok::LBrace => self.selector(None, t.start),
            Tok::Ident(name) => self.ident(name, t.start),
            _ => Err(self.unexpected("", None)),
        }
    }

    fn ident(&mut self, name: String, start: usize) -> Result<Expr, ParseError> {
        self.bump();
        let next = self.peek().clone();
        if let Some(op) = AggOp::from_name(&name) {
            let grouping_kw = matches!(&next, Tok::Ident(s)
                if s.eq_ignore_ascii_case("by") || s.eq_ignore_ascii_case("without"));
            if next == Tok::LParen || grouping_kw {
                return self.aggregate(op, start);
            }
        }
        if next == Tok::LParen {
            return self.call(&name, start);
        }
        self.selector(Some(name), start)
    }

    fn call(&mut self, name: &str, start: usize) -> Result<Expr, ParseError> {
        let Some(func) = functions::lookup(name) else {
            return Err(self.err(start, format!("unknown function with name {name:?}")));
        };
        self.bump();
        let mut args = Vec::new();
        if *self.peek() != Tok::RParen {
            loop {
                let lenient = func.name == "info" && !args.is_empty();
                let saved = std::mem::replace(&mut self.lenient_selector, lenient);
                let arg = self.expr(0);
                self.lenient_selector = saved;
                args.push(arg?);
                if *self.peek() == Tok::Comma {
                    self.bump();
                    // A trailing comma before ')' is allowed.
                    if *self.peek() == Tok::RParen {
                        break;
                    }
                    continue;
                }
                break;
            }
        }
        let close = self.expect(Tok::RParen, "function call")?;
        let call = Call {
            func,
            args,
            pos: PosRange {
                start,
                end: close.end,
            },
        };
        self.check_call(&call)?;
        Ok(Expr::Call(call))
    }

    fn check_call(&self, c: &Call) -> Result<(), ParseError> {
        let f = c.func;
        let n = c.args.len();
        let min = f.args.len() - usize::try_from(f.variadic.max(0)).unwrap_or(0);
        let min = if f.variadic < 0 {
            f.args.len() - 1
        } else {
            min
        };
        let name = f.name;
        if f.variadic == 0 && n != f.args.len() {
            return Err(self.err(
                c.pos.start,
                format!(
                    "expected {} argument(s) in call to {name:?}, got {n}",
                    f.args.len()
                ),
            ));
        }
        if n < min {
            return Err(self.err(
                c.pos.start,
                format!("expected at least {min} argument(s) in call to {name:?}, got {n}"),
            ));
        }
        if f.variadic > 0 && n > f.args.len() {
            return Err(self.err(
                c.pos.start,
                format!(
                    "expected at most {} argument(s) in call to {name:?}, got {n}",
                    f.args.len()
                ),
            ));
        }
        for (i, a) in c.args.iter().enumerate() {
            let want = f.args[i.min(f.args.len() - 1)];
            let got = a.value_type();
            if want != got {
                return Err(self.err(
                    a.pos().start,
                    format!(
                        "expected type {} in call to function {name:?}, got {}",
                        want.name(),
                        got.name()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn aggregate(&mut self, op: AggOp, start: usize) -> Result<Expr, ParseError> {
        let mut grouping = Vec::new();
        let mut without = false;
        let mut grouped = false;
        if self.is_ident("by") || self.is_ident("without") {
            without = self.is_ident("without");
            self.bump();
            grouping = self.label_list()?;
            grouped = true;
        }
        self.expect(Tok::LParen, "aggregation")?;
        let mut args = vec![self.expr(0)?];
        while *self.peek() == Tok::Comma {
            self.bump();
            if *self.peek() == Tok::RParen {
                break;
            }
            args.push(self.expr(0)?);
        }
        let mut close = self.expect(Tok::RParen, "aggregation")?;
        if !grouped && (self.is_ident("by") || self.is_ident("without")) {
            without = self.is_ident("without");
            self.bump();
            grouping = self.label_list()?;
            close.end = self.toks[self.i.saturating_sub(1)].end;
        }
        let want = if op.param_type().is_some() { 2 } else { 1 };
        if args.len() != want {
            return Err(self.err(
                start,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {want}, got {}",
                    args.len()
                ),
            ));
        }
        let expr = args.pop().unwrap_or(Expr::Number {
            val: 0.0,
            pos: PosRange::default(),
        });
        let param = args.pop();
        if expr.value_type() != ValueType::Vector {
            return Err(self.err(
                expr.pos().start,
                format!(
                    "expected type instant vector in aggregation expression, got {}",
                    expr.value_type().name()
                ),
            ));
        }
        if let (Some(p), Some(want)) = (&param, op.param_type())
            && p.value_type() != want
        {
            return Err(self.err(
                p.pos().start,
                format!(
                    "expected type {} in aggregation parameter, got {}",
                    want.name(),
                    p.value_type().name()
                ),
            ));
        }
        Ok(Expr::Aggregate(Box::new(AggregateExpr {
            op,
            expr,
            param,
            grouping,
            without,
            pos: PosRange {
                start,
                end: close.end,
            },
        })))
    }

    /// `(label, label, ...)` for grouping and vector matching.
    fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect(Tok::LParen, "grouping opts")?;
        let mut out = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::RParen => break,
                Tok::Ident(s) => {
                    self.bump();
                    out.push(s);
                }
                Tok::Str(s) => {
                    self.bump();
                    out.push(s);
                }
                _ => return Err(self.unexpected("grouping opts", Some("label"))),
            }
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => break,
                _ => return Err(self.unexpected("grouping opts", Some("\",\" or \")\""))),
            }
        }
        self.bump();
        Ok(out)
    }

    /// `name{matchers}`, `name`, or `{matchers}`.
    fn selector(&mut self, name: Option<String>, start: usize) -> Result<Expr, ParseError> {
        let mut matchers = Vec::new();
        let mut name = name;
        let mut end = self.toks[self.i.saturating_sub(1)].end;
        if *self.peek() == Tok::LBrace {
            self.bump();
            let (ms, quoted_name) = self.matchers()?;
            matchers = ms;
            end = self.toks[self.i - 1].end;
            if let Some(q) = quoted_name {
                if name.is_some() {
                    return Err(self.err(start, "metric name must not be set twice"));
                }
                name = Some(q);
            }
        }
        if let Some(n) = &name {
            if matchers.iter().any(|m: &Matcher| m.name == "__name__") {
                return Err(self.err(
                    start,
                    format!("metric name must not be set twice: {n:?} or {n:?}"),
                ));
            }
            matchers.insert(0, Matcher::equal("__name__", n.as_str()));
        }
        if !self.lenient_selector && !matchers.iter().any(|m| !m.matches_empty()) {
            return Err(self.err(
                start,
                "vector selector must contain at least one non-empty matcher",
            ));
        }
        Ok(Expr::Vector(VectorSelector {
            name,
            matchers,
            offset: None,
            at: None,
            smoothed: false,
            anchored: false,
            pos: PosRange { start, end },
        }))
    }

    /// The inside of `{...}`; returns the matchers and a quoted metric name
    /// given bare (`{"my.metric"}`).
    fn matchers(&mut self) -> Result<(Vec<Matcher>, Option<String>), ParseError> {
        let mut out = Vec::new();
        let mut quoted_name = None;
        loop {
            let t = self.tok().clone();
            let is_str = matches!(t.tok, Tok::Str(_));
            let label = match t.tok {
                Tok::RBrace => break,
                Tok::Ident(s) => s,
                Tok::Str(s) => s,
                _ => return Err(self.unexpected("label matching", Some("label"))),
            };
            self.bump();
            let kind = match self.peek() {
                Tok::Assign => MatchType::Equal,
                Tok::Neq => MatchType::NotEqual,
                Tok::EqlRegex => MatchType::Regex,
                Tok::NeqRegex => MatchType::NotRegex,
                Tok::Comma | Tok::RBrace if is_str => {
                    if quoted_name.is_some() {
                        return Err(self.err(t.start, "metric name must not be set twice"));
                    }
                    quoted_name = Some(label);
                    if *self.peek() == Tok::Comma {
                        self.bump();
                    }
                    continue;
                }
                _ => return Err(self.unexpected("label matching", Some("label matching operator"))),
            };
            self.bump();
            let vt = self.tok().clone();
            let Tok::Str(value) = vt.tok else {
                return Err(self.unexpected("label matching", Some("string")));
            };
            self.bump();
            let m =
                Matcher::new(kind, label, value).map_err(|e| self.err(vt.start, e.to_string()))?;
            out.push(m);
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RBrace => {}
                _ => return Err(self.unexpected("label matching", Some("\",\" or \"}\""))),
            }
        }
        self.bump();
        if let Some(n) = &quoted_name {
            if out.iter().any(|m| m.name == "__name__") {
                return Err(self.err(self.tok().start, "metric name must not be set twice"));
            }
            let _ = n;
        }
        Ok((out, quoted_name))
    }

    /// `[range]` after a selector, or `[range:step]` after any expression.
    fn bracket(&mut self, e: Expr) -> Result<Expr, ParseError> {
        let open = self.bump();
        let range = self.dur_expr(0)?;
        if *self.peek() == Tok::Colon {
            self.bump();
            let step = if *self.peek() == Tok::RBracket {
                None
            } else {
                Some(self.dur_expr(0)?)
            };
            let close = self.expect(Tok::RBracket, "subquery selector")?;
            if e.value_type() != ValueType::Vector {
                return Err(self.err(
                    open.start,
                    format!(
                        "subquery is only allowed on instant vector, got {}",
                        match e.value_type() {
                            ValueType::Matrix => "matrix",
                            ValueType::Scalar => "scalar",
                            ValueType::String => "string",
                            ValueType::Vector => "vector",
                        }
                    ),
                ));
            }
            let start = e.pos().start;
            return Ok(Expr::Subquery(Box::new(SubqueryExpr {
                expr: e,
                range,
                step,
                offset: None,
                at: None,
                pos: PosRange {
                    start,
                    end: close.end,
                },
            })));
        }
        let close = self.expect(Tok::RBracket, "matrix selector")?;
        match e {
            Expr::Vector(vs) if vs.offset.is_none() && vs.at.is_none() => {
                let start = vs.pos.start;
                Ok(Expr::Matrix(MatrixSelector {
                    vs,
                    range,
                    anchored: false,
                    smoothed: false,
                    pos: PosRange {
                        start,
                        end: close.end,
                    },
                }))
            }
            Expr::Vector(_) => {
                Err(self.err(open.start, "no offset or @ modifiers allowed before range"))
            }
            _ => Err(self.err(open.start, "ranges only allowed for vector selectors")),
        }
    }

    fn offset(&mut self, mut e: Expr) -> Result<Expr, ParseError> {
        let t = self.bump();
        let d = self.dur_offset()?;
        let end = self.toks[self.i - 1].end;
        let slot = match &mut e {
            Expr::Vector(v) => {
                v.pos.end = end;
                &mut v.offset
            }
            Expr::Matrix(m) => {
                m.pos.end = end;
                &mut m.vs.offset
            }
            Expr::Subquery(s) => {
                s.pos.end = end;
                &mut s.offset
            }
            _ => {
                return Err(self.err(
                    t.start,
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        if slot.is_some() {
            return Err(self.err(t.start, "offset may not be set multiple times"));
        }
        *slot = Some(d);
        Ok(e)
    }

    fn at_modifier(&mut self, mut e: Expr) -> Result<Expr, ParseError> {
        let t = self.bump();
        let at = if self.is_ident("start") || self.is_ident("end") {
            let start = self.is_ident("start");
            self.bump();
            self.expect(Tok::LParen, "@ modifier")?;
            self.expect(Tok::RParen, "@ modifier")?;
            if start {
                AtModifier::Start
            } else {
                AtModifier::End
            }
        } else {
            let v = self.signed_number("@ modifier")?;
            if !v.is_finite() || v.abs() * 1000.0 > i64::MAX as f64 / 2.0 {
                return Err(self.err(
                    t.start,
                    format!("timestamp out of bounds for @ modifier: {v}"),
                ));
            }
            AtModifier::Time((v * 1000.0).round() as i64)
        };
        let end = self.toks[self.i - 1].end;
        let slot = match &mut e {
            Expr::Vector(v) => {
                v.pos.end = end;
                &mut v.at
            }
            Expr::Matrix(m) => {
                m.pos.end = end;
                &mut m.vs.at
            }
            Expr::Subquery(s) => {
                s.pos.end = end;
                &mut s.at
            }
            _ => {
                return Err(self.err(
                    t.start,
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                ));
            }
        };
        if slot.is_some() {
            return Err(self.err(t.start, "@ <timestamp> may not be set multiple times"));
        }
        *slot = Some(at);
        Ok(e)
    }
}

fn dur_op_of(t: &Tok) -> Option<(DurOp, u8)> {
    Some(match t {
        Tok::Add => (DurOp::Add, 1),
        Tok::Sub => (DurOp::Sub, 1),
        Tok::Mul => (DurOp::Mul, 2),
        Tok::Div => (DurOp::Div, 2),
        Tok::Mod => (DurOp::Mod, 2),
        Tok::Pow => (DurOp::Pow, 3),
        _ => return None,
    })
}

/// Duration expressions inside `[...]` and after `offset`.
impl Parser<'_> {
    fn dur_expr(&mut self, min_prec: u8) -> Result<DurationExpr, ParseError> {
        self.enter()?;
        let mut lhs = match self.peek() {
            Tok::Sub | Tok::Add => {
                let neg = *self.peek() == Tok::Sub;
                self.bump();
                let inner = self.dur_expr(3)?;
                if neg {
                    DurationExpr::Neg(Box::new(inner))
                } else {
                    inner
                }
            }
            _ => self.dur_primary()?,
        };
        while let Some((op, prec)) = dur_op_of(self.peek()) {
            if prec < min_prec {
                break;
            }
            self.bump();
            let next = if op == DurOp::Pow { prec } else { prec + 1 };
            let rhs = self.dur_expr(next)?;
            lhs = DurationExpr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        self.depth -= 1;
        Ok(lhs)
    }

    /// The duration after `offset`: an optionally signed primary.
    fn dur_offset(&mut self) -> Result<DurationExpr, ParseError> {
        match self.peek() {
            Tok::Sub => {
                self.bump();
                Ok(DurationExpr::Neg(Box::new(self.dur_primary()?)))
            }
            Tok::Add => {
                self.bump();
                self.dur_primary()
            }
            _ => self.dur_primary(),
        }
    }

    fn dur_primary(&mut self) -> Result<DurationExpr, ParseError> {
        let t = self.tok().clone();
        match t.tok {
            Tok::Number(n) => {
                self.bump();
                Ok(DurationExpr::Literal { secs: n, ms: None })
            }
            Tok::Duration(ms) => {
                self.bump();
                Ok(DurationExpr::from_ms(ms))
            }
            Tok::LParen => {
                self.bump();
                let e = self.dur_expr(0)?;
                self.expect(Tok::RParen, "duration expression")?;
                Ok(DurationExpr::Paren(Box::new(e)))
            }
            Tok::Ident(name) if *self.peek_at(1) == Tok::LParen => {
                let lower = name.to_ascii_lowercase();
                self.bump();
                self.bump();
                let e = match lower.as_str() {
                    "step" => DurationExpr::Step,
                    "range" => DurationExpr::Range,
                    "min_of" | "max_of" => {
                        let a = self.dur_expr(0)?;
                        self.expect(Tok::Comma, "duration expression")?;
                        let b = self.dur_expr(0)?;
                        if lower == "min_of" {
                            DurationExpr::MinOf(Box::new(a), Box::new(b))
                        } else {
                            DurationExpr::MaxOf(Box::new(a), Box::new(b))
                        }
                    }
                    _ => {
                        return Err(self.err(
                            t.start,
                            format!("unexpected function {name:?} in duration expression"),
                        ));
                    }
                };
                self.expect(Tok::RParen, "duration expression")?;
                Ok(e)
            }
            _ => Err(self.unexpected("duration expression", Some("duration"))),
        }
    }
}

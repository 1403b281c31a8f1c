//! The PromQL syntax tree. Every node records the byte range it came from,
//! so errors and annotations can point into the query.

use beacon_model::Matcher;

/// A byte range `[start, end)` in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PosRange {
    pub start: usize,
    pub end: usize,
}

/// The four PromQL value types, for type checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Scalar,
    Vector,
    Matrix,
    String,
}

impl ValueType {
    /// The name Prometheus uses in type errors.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }
}

/// A parsed PromQL expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Number {
        val: f64,
        pos: PosRange,
    },
    String {
        val: String,
        pos: PosRange,
    },
    Vector(VectorSelector),
    Matrix(MatrixSelector),
    Subquery(Box<SubqueryExpr>),
    Paren {
        expr: Box<Expr>,
        pos: PosRange,
    },
    /// Unary minus (`neg`) or plus.
    Unary {
        neg: bool,
        expr: Box<Expr>,
        pos: PosRange,
    },
    Binary(Box<BinaryExpr>),
    Call(Call),
    Aggregate(Box<AggregateExpr>),
}

/// `@` modifier values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AtModifier {
    /// A fixed time in milliseconds.
    Time(i64),
    Start,
    End,
}

/// An instant vector selector: `name{matchers} offset d @ t`.
#[derive(Debug, Clone)]
pub struct VectorSelector {
    pub name: Option<String>,
    /// All matchers, including the `__name__` one derived from `name`.
    pub matchers: Vec<Matcher>,
    pub offset: Option<DurationExpr>,
    pub at: Option<AtModifier>,
    /// `smoothed` on an instant selector: interpolate between neighbours.
    pub smoothed: bool,
    /// `anchored` on an instant selector.
    pub anchored: bool,
    pub pos: PosRange,
}

/// A range vector selector: `selector[range]`, optionally `anchored` or
/// `smoothed` (experimental range modifiers).
#[derive(Debug, Clone)]
pub struct MatrixSelector {
    pub vs: VectorSelector,
    pub range: DurationExpr,
    pub anchored: bool,
    pub smoothed: bool,
    pub pos: PosRange,
}

/// A subquery: `expr[range:step] offset d @ t`.
#[derive(Debug, Clone)]
pub struct SubqueryExpr {
    pub expr: Expr,
    pub range: DurationExpr,
    pub step: Option<DurationExpr>,
    pub offset: Option<DurationExpr>,
    pub at: Option<AtModifier>,
    pub pos: PosRange,
}

/// Operators in duration expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
}

/// A duration: a literal or arithmetic over literals, `step()` and
/// `range()` (experimental duration expressions). Numbers are seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationExpr {
    /// A literal; `ms` is set when it was written as a duration (`5m`).
    Literal {
        secs: f64,
        ms: Option<i64>,
    },
    Step,
    Range,
    Neg(Box<DurationExpr>),
    Paren(Box<DurationExpr>),
    Binary {
        op: DurOp,
        lhs: Box<DurationExpr>,
        rhs: Box<DurationExpr>,
    },
    MinOf(Box<DurationExpr>, Box<DurationExpr>),
    MaxOf(Box<DurationExpr>, Box<DurationExpr>),
}

impl DurationExpr {
    /// A plain millisecond literal.
    pub fn from_ms(ms: i64) -> DurationExpr {
        DurationExpr::Literal {
            secs: ms as f64 / 1000.0,
            ms: Some(ms),
        }
    }

    /// True when the value does not depend on the query's step or range.
    pub fn is_constant(&self) -> bool {
        match self {
            DurationExpr::Literal { .. } => true,
            DurationExpr::Step | DurationExpr::Range => false,
            DurationExpr::Neg(e) | DurationExpr::Paren(e) => e.is_constant(),
            DurationExpr::Binary { lhs, rhs, .. }
            | DurationExpr::MinOf(lhs, rhs)
            | DurationExpr::MaxOf(lhs, rhs) => lhs.is_constant() && rhs.is_constant(),
        }
    }

    /// Evaluates to seconds, given the query step and range in ms.
    pub fn eval_secs(&self, step_ms: i64, range_ms: i64) -> f64 {
        match self {
            DurationExpr::Literal { secs, ms } => ms.map_or(*secs, |m| m as f64 / 1000.0),
            DurationExpr::Step => step_ms as f64 / 1000.0,
            DurationExpr::Range => range_ms as f64 / 1000.0,
            DurationExpr::Neg(e) => -e.eval_secs(step_ms, range_ms),
            DurationExpr::Paren(e) => e.eval_secs(step_ms, range_ms),
            DurationExpr::MinOf(a, b) => a
                .eval_secs(step_ms, range_ms)
                .min(b.eval_secs(step_ms, range_ms)),
            DurationExpr::MaxOf(a, b) => a
                .eval_secs(step_ms, range_ms)
                .max(b.eval_secs(step_ms, range_ms)),
            DurationExpr::Binary { op, lhs, rhs } => {
                let (a, b) = (
                    lhs.eval_secs(step_ms, range_ms),
                    rhs.eval_secs(step_ms, range_ms),
                );
                match op {
                    DurOp::Add => a + b,
                    DurOp::Sub => a - b,
                    DurOp::Mul => a * b,
                    DurOp::Div => a / b,
                    DurOp::Mod => a % b,
                    DurOp::Pow => a.powf(b),
                }
            }
        }
    }

    /// Evaluates to milliseconds (rounded), given step and range in ms.
    pub fn eval_ms(&self, step_ms: i64, range_ms: i64) -> i64 {
        if let DurationExpr::Literal { ms: Some(ms), .. } = self {
            return *ms;
        }
        (self.eval_secs(step_ms, range_ms) * 1000.0).round() as i64
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eql,
    Neq,
    Lss,
    Lte,
    Gtr,
    Gte,
    And,
    Or,
    Unless,
    /// `</`: trims histogram observations above the right-hand value.
    TrimUpper,
    /// `>/`: trims histogram observations below the right-hand value.
    TrimLower,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Atan2 => "atan2",
            BinOp::Eql => "==",
            BinOp::Neq => "!=",
            BinOp::Lss => "<",
            BinOp::Lte => "<=",
            BinOp::Gtr => ">",
            BinOp::Gte => ">=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
            BinOp::TrimUpper => "</",
            BinOp::TrimLower => ">/",
        }
    }

    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Eql | BinOp::Neq | BinOp::Lss | BinOp::Lte | BinOp::Gtr | BinOp::Gte => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul
            | BinOp::Div
            | BinOp::Mod
            | BinOp::Atan2
            | BinOp::TrimUpper
            | BinOp::TrimLower => 5,
            BinOp::Pow => 6,
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eql | BinOp::Neq | BinOp::Lss | BinOp::Lte | BinOp::Gtr | BinOp::Gte
        )
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

/// How series on both sides of a binary operation are paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cardinality {
    #[default]
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// `on`/`ignoring`, `group_left`/`group_right` and fill modifiers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VectorMatching {
    pub card: Cardinality,
    /// The `on` or `ignoring` labels.
    pub labels: Vec<String>,
    /// True for `on(...)`, false for `ignoring(...)` or no clause.
    pub on: bool,
    /// Labels copied from the "one" side (`group_left(...)`).
    pub include: Vec<String>,
    /// Value used for a missing left-hand series (`fill_left`/`fill`).
    pub fill_left: Option<f64>,
    /// Value used for a missing right-hand series (`fill_right`/`fill`).
    pub fill_right: Option<f64>,
}

/// A binary operation.
#[derive(Debug, Clone)]
pub struct BinaryExpr {
    pub op: BinOp,
    pub lhs: Expr,
    pub rhs: Expr,
    pub return_bool: bool,
    pub matching: VectorMatching,
    /// Position of the operator token.
    pub op_pos: PosRange,
}

/// Aggregation operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
    Limitk,
    LimitRatio,
}

impl AggOp {
    /// Looks up an aggregation by (case-insensitive) name.
    pub fn from_name(s: &str) -> Option<AggOp> {
        Some(match s.to_ascii_lowercase().as_str() {
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "count" => AggOp::Count,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "group" => AggOp::Group,
            "stddev" => AggOp::Stddev,
            "stdvar" => AggOp::Stdvar,
            "topk" => AggOp::Topk,
            "bottomk" => AggOp::Bottomk,
            "count_values" => AggOp::CountValues,
            "quantile" => AggOp::Quantile,
            "limitk" => AggOp::Limitk,
            "limit_ratio" => AggOp::LimitRatio,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AggOp::Sum => "sum",
            AggOp::Avg => "avg",
            AggOp::Count => "count",
            AggOp::Min => "min",
            AggOp::Max => "max",
            AggOp::Group => "group",
            AggOp::Stddev => "stddev",
            AggOp::Stdvar => "stdvar",
            AggOp::Topk => "topk",
            AggOp::Bottomk => "bottomk",
            AggOp::CountValues => "count_values",
            AggOp::Quantile => "quantile",
            AggOp::Limitk => "limitk",
            AggOp::LimitRatio => "limit_ratio",
        }
    }

    /// The type of the first (parameter) argument, if the operator has one.
    pub fn param_type(self) -> Option<ValueType> {
        match self {
            AggOp::Topk | AggOp::Bottomk | AggOp::Quantile | AggOp::Limitk | AggOp::LimitRatio => {
                Some(ValueType::Scalar)
            }
            AggOp::CountValues => Some(ValueType::String),
            _ => None,
        }
    }
}

/// An aggregation: `op by|without (labels) ([param,] expr)`.
#[derive(Debug, Clone)]
pub struct AggregateExpr {
    pub op: AggOp,
    pub expr: Expr,
    pub param: Option<Expr>,
    pub grouping: Vec<String>,
    pub without: bool,
    pub pos: PosRange,
}

/// A function call.
#[derive(Debug, Clone)]
pub struct Call {
    pub func: &'static crate::functions::FuncDef,
    pub args: Vec<Expr>,
    pub pos: PosRange,
}

impl Expr {
    /// The type this expression evaluates to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number { .. } => ValueType::Scalar,
            Expr::String { .. } => ValueType::String,
            Expr::Vector(_) | Expr::Aggregate(_) => ValueType::Vector,
            Expr::Matrix(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Paren { expr, .. } | Expr::Unary { expr, .. } => expr.value_type(),
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar
                    && b.rhs.value_type() == ValueType::Scalar
                {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Call(c) => c.func.ret,
        }
    }

    /// Every vector selector's matchers (also those under range
    /// selectors), in the order they appear: what an exemplar or series
    /// lookup for this query must read.
    pub fn selectors(&self) -> Vec<Vec<beacon_model::Matcher>> {
        let mut out = Vec::new();
        self.collect_selectors(&mut out);
        out
    }

    fn collect_selectors(&self, out: &mut Vec<Vec<beacon_model::Matcher>>) {
        match self {
            Expr::Number { .. } | Expr::String { .. } => {}
            Expr::Vector(v) => out.push(v.matchers.clone()),
            Expr::Matrix(m) => out.push(m.vs.matchers.clone()),
            Expr::Subquery(s) => s.expr.collect_selectors(out),
            Expr::Paren { expr, .. } | Expr::Unary { expr, .. } => expr.collect_selectors(out),
            Expr::Binary(b) => {
                b.lhs.collect_selectors(out);
                b.rhs.collect_selectors(out);
            }
            Expr::Call(c) => c.args.iter().for_each(|a| a.collect_selectors(out)),
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    p.collect_selectors(out);
                }
                a.expr.collect_selectors(out);
            }
        }
    }

    /// The byte range the expression covers.
    pub fn pos(&self) -> PosRange {
        match self {
            Expr::Number { pos, .. }
            | Expr::String { pos, .. }
            | Expr::Paren { pos, .. }
            | Expr::Unary { pos, .. } => *pos,
            Expr::Vector(v) => v.pos,
            Expr::Matrix(m) => m.pos,
            Expr::Subquery(s) => s.pos,
            Expr::Binary(b) => PosRange {
                start: b.lhs.pos().start,
                end: b.rhs.pos().end,
            },
            Expr::Call(c) => c.pos,
            Expr::Aggregate(a) => a.pos,
        }
    }
}

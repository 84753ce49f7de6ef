//! The floating-point precisions numpy bins in, with numpy's rounding for each operation.

/// A binning precision: float64, float32 or float16. Each operation rounds its exact result
/// to the precision, as numpy's ufuncs do (float16 computes in float32 and rounds back to
/// float16, as numpy's float16 loops do).
pub trait Prec: Copy + PartialOrd + PartialEq + Send + Sync + std::fmt::Debug + 'static {
    const ZERO: Self;
    /// The distance from 1 to the next larger value.
    const EPSILON: f64;
    fn from_f64(x: f64) -> Self;
    fn from_usize(n: usize) -> Self;
    fn to_f64(self) -> f64;
    #[must_use]
    fn add(self, o: Self) -> Self;
    #[must_use]
    fn sub(self, o: Self) -> Self;
    #[must_use]
    fn mul(self, o: Self) -> Self;
    #[must_use]
    fn div(self, o: Self) -> Self;
    /// `astype(intp)` of a value numpy would convert (saturating elsewhere).
    fn trunc_i64(self) -> i64;
    fn is_finite(self) -> bool;
    fn is_nan(self) -> bool;
}

macro_rules! prec_native {
    ($($t:ty),*) => {$(
        impl Prec for $t {
            const ZERO: Self = 0.0;
            const EPSILON: f64 = <$t>::EPSILON as f64;
            #[inline(always)]
            fn from_f64(x: f64) -> Self { x as $t }
            #[inline(always)]
            fn from_usize(n: usize) -> Self { n as $t }
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
            #[inline(always)]
            fn add(self, o: Self) -> Self { self + o }
            #[inline(always)]
            fn sub(self, o: Self) -> Self { self - o }
            #[inline(always)]
            fn mul(self, o: Self) -> Self { self * o }
            #[inline(always)]
            fn div(self, o: Self) -> Self { self / o }
            #[inline(always)]
            fn trunc_i64(self) -> i64 { self as i64 }
            #[inline(always)]
            fn is_finite(self) -> bool { <$t>::is_finite(self) }
            #[inline(always)]
            fn is_nan(self) -> bool { <$t>::is_nan(self) }
        }
    )*};
}
prec_native!(f32, f64);

impl Prec for half::f16 {
    const ZERO: Self = half::f16::ZERO;
    const EPSILON: f64 = 1.0 / 1024.0;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        half::f16::from_f64(x)
    }
    #[inline(always)]
    fn from_usize(n: usize) -> Self {
        half::f16::from_f64(n as f64)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        half::f16::from_f32(self.to_f32() + o.to_f32())
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        half::f16::from_f32(self.to_f32() - o.to_f32())
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        half::f16::from_f32(self.to_f32() * o.to_f32())
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        half::f16::from_f32(self.to_f32() / o.to_f32())
    }
    #[inline(always)]
    fn trunc_i64(self) -> i64 {
        self.to_f32() as i64
    }
    #[inline(always)]
    fn is_finite(self) -> bool {
        half::f16::is_finite(self)
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        half::f16::is_nan(self)
    }
}

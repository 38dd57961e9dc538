;; int8 × int8 matrix products for GPT-2's tied token embedding / LM head (and any [N, K] int8
;; matrix with one scale per row N), in WebAssembly SIMD. Built by `npm run build:wasm`
;; (tools/build-wasm.ts) into lm-head.wasm beside this file.
;;
;; The numbers are those of the converted ONNX graph (tools/convert/int8-format.ts), bit for bit:
;;   activations, per row:  m = max(max|x|, smallest normal float)
;;                          q = clamp(roundHalfEven((x / m) / f32(1/127)), -128, 127)
;;   product:               acc = Σ_k q[k] · w[n, k]            (exact int32)
;;                          y = (f32(acc) · (f32(1/127) · scale[n])) · m
;; which is onnxruntime's Div + QuantizeLinear (zero point 128) + MatMulIntegerToFloat + Mul.
;; Every output element is computed the same way whatever the other rows are, so a row's logits do
;; not depend on its batch.
;;
;; Layout: the weight matrix is row-major [N, K] int8 (a row of the embedding table is a row here),
;; N a multiple of 4, K a multiple of 16. All pointers are byte offsets into the imported memory,
;; which the caller sizes and fills (src/engine/lm-head/index.ts).
(module
  (import "env" "memory" (memory 1))

  ;; f32(1/127): the activation scale the graph feeds QuantizeLinear and MatMulIntegerToFloat.
  (global $inverse_qmax f32 (f32.const 0x1.020408p-7))
  ;; Floor of a row's max|x|, so an all-zero row divides by a tiny number instead of by zero.
  (global $min_normal f32 (f32.const 0x1p-126))

  ;; x: f32 [rows, K] → q: i16 [rows, K] (the int8 grid, widened once here so the matmul loop
  ;; needs no activation widening) and row_max: f32 [rows].
  (func (export "quantize_rows")
    (param $x i32) (param $rows i32) (param $K i32) (param $q i32) (param $row_max i32)
    (local $end i32) (local $p i32) (local $max v128) (local $m f32) (local $m_splat v128)
    (local $grid v128) (local $low v128) (local $high v128) (local $r i32)
    (local.set $grid (f32x4.splat (global.get $inverse_qmax)))
    (block $rows_done
      (loop $each_row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $end (i32.add (local.get $x) (i32.shl (local.get $K) (i32.const 2))))
        ;; max |x| over the row (exact in any order)
        (local.set $max (v128.const i32x4 0 0 0 0))
        (local.set $p (local.get $x))
        (loop $abs_max
          (local.set $max (f32x4.max (local.get $max) (f32x4.abs (v128.load (local.get $p)))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $abs_max (i32.lt_u (local.get $p) (local.get $end))))
        (local.set $m
          (f32.max
            (f32.max
              (f32.max (f32x4.extract_lane 0 (local.get $max)) (f32x4.extract_lane 1 (local.get $max)))
              (f32.max (f32x4.extract_lane 2 (local.get $max)) (f32x4.extract_lane 3 (local.get $max))))
            (global.get $min_normal)))
        (f32.store (local.get $row_max) (local.get $m))
        (local.set $m_splat (f32x4.splat (local.get $m)))
        ;; q = clamp(nearest((x / m) / (1/127))), two divisions as the graph does them
        (local.set $p (local.get $x))
        (loop $quantize
          (local.set $low (call $grid_point (v128.load (local.get $p)) (local.get $m_splat) (local.get $grid)))
          (local.set $high (call $grid_point (v128.load offset=16 (local.get $p)) (local.get $m_splat) (local.get $grid)))
          (v128.store (local.get $q) (i16x8.narrow_i32x4_s (local.get $low) (local.get $high)))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (local.set $p (i32.add (local.get $p) (i32.const 32)))
          (br_if $quantize (i32.lt_u (local.get $p) (local.get $end))))
        (local.set $x (local.get $end))
        (local.set $row_max (i32.add (local.get $row_max) (i32.const 4)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $each_row)))
  )

  (func $grid_point (param $v v128) (param $m v128) (param $grid v128) (result v128)
    (i32x4.trunc_sat_f32x4_s
      (f32x4.min
        (f32x4.max
          (f32x4.nearest (f32x4.div (f32x4.div (local.get $v) (local.get $m)) (local.get $grid)))
          (v128.const f32x4 -128 -128 -128 -128))
        (v128.const f32x4 127 127 127 127)))
  )

  ;; out: f32 [count, K] = rows ids[i] of the int8 table, each times its scale (the graph's
  ;; Gather + Cast + Mul). ids: i32 [count], each already checked to be < the table's rows.
  (func (export "gather_rows")
    (param $ids i32) (param $count i32) (param $table i32) (param $scales i32) (param $K i32) (param $out i32)
    (local $i i32) (local $row i32) (local $end i32) (local $scale v128) (local $bytes v128) (local $half v128)
    (block $done
      (loop $each_id
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $row (i32.load (i32.add (local.get $ids) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $scale (v128.load32_splat (i32.add (local.get $scales) (i32.shl (local.get $row) (i32.const 2)))))
        (local.set $row (i32.add (local.get $table) (i32.mul (local.get $row) (local.get $K))))
        (local.set $end (i32.add (local.get $row) (local.get $K)))
        (loop $each_16
          (local.set $bytes (v128.load (local.get $row)))
          (local.set $half (i16x8.extend_low_i8x16_s (local.get $bytes)))
          (v128.store (local.get $out) (call $dequantize (i32x4.extend_low_i16x8_s (local.get $half)) (local.get $scale)))
          (v128.store offset=16 (local.get $out) (call $dequantize (i32x4.extend_high_i16x8_s (local.get $half)) (local.get $scale)))
          (local.set $half (i16x8.extend_high_i8x16_s (local.get $bytes)))
          (v128.store offset=32 (local.get $out) (call $dequantize (i32x4.extend_low_i16x8_s (local.get $half)) (local.get $scale)))
          (v128.store offset=48 (local.get $out) (call $dequantize (i32x4.extend_high_i16x8_s (local.get $half)) (local.get $scale)))
          (local.set $out (i32.add (local.get $out) (i32.const 64)))
          (local.set $row (i32.add (local.get $row) (i32.const 16)))
          (br_if $each_16 (i32.lt_u (local.get $row) (local.get $end))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each_id)))
  )

  (func $dequantize (param $ints v128) (param $scale v128) (result v128)
    (f32x4.mul (f32x4.convert_i32x4_s (local.get $ints)) (local.get $scale))
  )

  ;; out[m, n] (row stride out_stride floats) for m < rows, n < N: the product of quantized
  ;; activation row m (q: i16 [rows, K], row_max: f32 [rows]) with weight row n (w: i8 [N, K],
  ;; scales: f32 [N]). Four weight rows at a time, two activation rows at a time (then one, for an
  ;; odd last row): each 16-byte weight load is widened to int16 in registers once and multiplied
  ;; with both activation rows by i32x4.dot_i16x8_s. The hot loops are written out in full rather
  ;; than calling helpers: V8 did not inline a helper call per 16 weights, which cost 3×.
  ;; A row's sums are the same whichever loop computes them (exact integer arithmetic).
  (func (export "matmul")
    (param $q i32) (param $row_max i32) (param $rows i32) (param $w i32) (param $scales i32)
    (param $N i32) (param $K i32) (param $out i32) (param $out_stride i32)
    (local $n i32) (local $m i32) (local $k i32) (local $a i32) (local $a_end i32) (local $w0 i32)
    (local $K2 i32) (local $K3 i32) (local $row_bytes i32) (local $multiplier v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $xa_low v128) (local $xa_high v128) (local $xb_low v128) (local $xb_high v128)
    (local $weights v128) (local $half v128)
    (local.set $K2 (i32.shl (local.get $K) (i32.const 1)))
    (local.set $K3 (i32.mul (local.get $K) (i32.const 3)))
    (local.set $row_bytes (i32.shl (local.get $K) (i32.const 1)))
    (block $tiles_done
      (loop $each_tile
        (br_if $tiles_done (i32.ge_u (local.get $n) (local.get $N)))
        ;; MatMulIntegerToFloat's per-column multiplier: a_scale · b_scale[n], rounded to f32
        (local.set $multiplier
          (f32x4.mul (f32x4.splat (global.get $inverse_qmax))
                     (v128.load (i32.add (local.get $scales) (i32.shl (local.get $n) (i32.const 2))))))
        (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $K))))
        (local.set $m (i32.const 0))
        (local.set $a (local.get $q))
        ;; two activation rows (m, m + 1) against the four weight rows
        (block $pairs_done
          (loop $each_pair
            (br_if $pairs_done (i32.gt_u (i32.add (local.get $m) (i32.const 2)) (local.get $rows)))
            (local.set $a_end (i32.add (local.get $a) (local.get $row_bytes)))
            (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $b0 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
            (local.set $b2 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
            (local.set $k (local.get $w0))
            (loop $each_16
              (local.set $xa_low (v128.load (local.get $a)))
              (local.set $xa_high (v128.load offset=16 (local.get $a)))
              (local.set $xb_low (v128.load (i32.add (local.get $a) (local.get $row_bytes))))
              (local.set $xb_high (v128.load offset=16 (i32.add (local.get $a) (local.get $row_bytes))))
              ;; weight row n
              (local.set $weights (v128.load (local.get $k)))
              (local.set $half (i16x8.extend_low_i8x16_s (local.get $weights)))
              (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $half) (local.get $xa_low))))
              (local.set $b0 (i32x4.add (local.get $b0) (i32x4.dot_i16x8_s (local.get $half) (local.get $xb_low))))
              (local.set $half (i16x8.extend_high_i8x16_s (local.get $weights)))
              (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $half) (local.get $xa_high))))
              (local.set $b0 (i32x4.add (local.get $b0) (i32x4.dot_i16x8_s (local.get $half) (local.get $xb_high))))
              ;; weight row n + 1
              (local.set $weights (v128.load (i32.add (local.get $k) (local.get $K))))
              (local.set $half (i16x8.extend_low_i8x16_s (local.get $weights)))
              (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $half) (local.get $xa_low))))
              (local.set $b1 (i32x4.add (local.get $b1) (i32x4.dot_i16x8_s (local.get $half) (local.get $xb_low))))
              (local.set $half (i16x8.extend_high_i8x16_s (local.get $weights)))
              (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $half) (local.get $xa_high))))
              (local.set $b1 (i32x4.add (local.get $b1) (i32x4.dot_i16x8_s (local.get $half) (local.get $xb_high))))
              ;; weight row n + 2
              (local.set $weights (v128.load (i32.add (local.get $k) (local.get $K2))))
              (local.set $half (i16x8.extend_low_i8x16_s (local.get $weights)))
              (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $half) (local.get $xa_low))))
              (local.set $b2 (i32x4.add (local.get $b2) (i32x4.dot_i16x8_s (local.get $half) (local.get $xb_low))))
              (local.set $half (i16x8.extend_high_i8x16_s (local.get $weights)))
              (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $half) (local.get $xa_high))))
              (local.set $b2 (i32x4.add (local.get $b2) (i32x4.dot_i16x8_s (local.get $half) (local.get $xb_high))))
              ;; weight row n + 3
              (local.set $weights (v128.load (i32.add (local.get $k) (local.get $K3))))
              (local.set $half (i16x8.extend_low_i8x16_s (local.get $weights)))
              (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $half) (local.get $xa_low))))
              (local.set $b3 (i32x4.add (local.get $b3) (i32x4.dot_i16x8_s (local.get $half) (local.get $xb_low))))
              (local.set $half (i16x8.extend_high_i8x16_s (local.get $weights)))
              (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $half) (local.get $xa_high))))
              (local.set $b3 (i32x4.add (local.get $b3) (i32x4.dot_i16x8_s (local.get $half) (local.get $xb_high))))
              (local.set $k (i32.add (local.get $k) (i32.const 16)))
              (local.set $a (i32.add (local.get $a) (i32.const 32)))
              (br_if $each_16 (i32.lt_u (local.get $a) (local.get $a_end))))
            (call $store_row (local.get $out) (local.get $out_stride) (local.get $row_max) (local.get $m) (local.get $n)
              (local.get $multiplier) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))
            (call $store_row (local.get $out) (local.get $out_stride) (local.get $row_max) (i32.add (local.get $m) (i32.const 1)) (local.get $n)
              (local.get $multiplier) (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3))
            ;; $a stopped at the start of row m + 1, which this pass has done too
            (local.set $a (i32.add (local.get $a_end) (local.get $row_bytes)))
            (local.set $m (i32.add (local.get $m) (i32.const 2)))
            (br $each_pair)))
        ;; an odd last activation row alone
        (if (i32.lt_u (local.get $m) (local.get $rows))
          (then
            (local.set $a_end (i32.add (local.get $a) (local.get $row_bytes)))
            (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $k (local.get $w0))
            (loop $each_16
              (local.set $xa_low (v128.load (local.get $a)))
              (local.set $xa_high (v128.load offset=16 (local.get $a)))
              (local.set $weights (v128.load (local.get $k)))
              (local.set $a0 (i32x4.add (i32x4.add (local.get $a0)
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $weights)) (local.get $xa_low)))
                  (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $weights)) (local.get $xa_high))))
              (local.set $weights (v128.load (i32.add (local.get $k) (local.get $K))))
              (local.set $a1 (i32x4.add (i32x4.add (local.get $a1)
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $weights)) (local.get $xa_low)))
                  (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $weights)) (local.get $xa_high))))
              (local.set $weights (v128.load (i32.add (local.get $k) (local.get $K2))))
              (local.set $a2 (i32x4.add (i32x4.add (local.get $a2)
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $weights)) (local.get $xa_low)))
                  (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $weights)) (local.get $xa_high))))
              (local.set $weights (v128.load (i32.add (local.get $k) (local.get $K3))))
              (local.set $a3 (i32x4.add (i32x4.add (local.get $a3)
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $weights)) (local.get $xa_low)))
                  (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $weights)) (local.get $xa_high))))
              (local.set $k (i32.add (local.get $k) (i32.const 16)))
              (local.set $a (i32.add (local.get $a) (i32.const 32)))
              (br_if $each_16 (i32.lt_u (local.get $a) (local.get $a_end))))
            (call $store_row (local.get $out) (local.get $out_stride) (local.get $row_max) (local.get $m) (local.get $n)
              (local.get $multiplier) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))))
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (br $each_tile)))
  )

  ;; out[m, n .. n + 3] = f32(Σ lanes of acc_i) · multiplier · row_max[m]: MatMulIntegerToFloat's
  ;; scaling, then the graph's Mul by the row's max|x|. Once per four outputs, so a call is cheap.
  (func $store_row (param $out i32) (param $out_stride i32) (param $row_max i32) (param $m i32) (param $n i32)
    (param $multiplier v128) (param $acc0 v128) (param $acc1 v128) (param $acc2 v128) (param $acc3 v128)
    (v128.store
      (i32.add (local.get $out)
               (i32.shl (i32.add (i32.mul (local.get $m) (local.get $out_stride)) (local.get $n)) (i32.const 2)))
      (f32x4.mul
        (f32x4.mul (f32x4.convert_i32x4_s
                     (call $sum_lanes (local.get $acc0) (local.get $acc1) (local.get $acc2) (local.get $acc3)))
                   (local.get $multiplier))
        (v128.load32_splat (i32.add (local.get $row_max) (i32.shl (local.get $m) (i32.const 2))))))
  )

  ;; [Σ a, Σ b, Σ c, Σ d] from four int32x4 vectors (integer sums: exact in any order).
  (func $sum_lanes (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result v128)
    (local $ab v128) (local $cd v128)
    (local.set $ab
      (i32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $a) (local.get $b))
                 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $a) (local.get $b))))
    (local.set $cd
      (i32x4.add (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $c) (local.get $d))
                 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $c) (local.get $d))))
    (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $ab) (local.get $cd))
               (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $ab) (local.get $cd)))
  )
)

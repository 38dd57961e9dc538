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
    (local $grid v128) (local $low v128) (local $high v128) (local $r i32) (local $v v128)
    (local $lowest v128) (local $highest v128) (local $magic v128)
    (local.set $grid (f32x4.splat (global.get $inverse_qmax)))
    (local.set $lowest (v128.const f32x4 -128 -128 -128 -128))
    (local.set $highest (v128.const f32x4 127 127 127 127))
    (local.set $magic (v128.const f32x4 0x1.8p23 0x1.8p23 0x1.8p23 0x1.8p23))
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
        ;; q = clamp(nearest((x / m) / (1/127))), two divisions as the graph does them. Written out
        ;; in the loop: V8 did not inline a helper called per 4 values.
        (local.set $p (local.get $x))
        (loop $quantize
          ;; v → trunc_sat(clamp(nearest(v), -128, 127)) without the costly conversions (V8 turns
          ;; f32x4.nearest, NaN-aware min/max and trunc_sat into several x64 instructions each):
          ;; clamped first (the same, the bounds being integers), then v + 1.5·2²³ rounds v to an
          ;; integer, half to even, in the float's low mantissa bits (|v| ≤ 128 ≪ 2²²), read back
          ;; by an integer subtraction of the constant's bits; a NaN (from an infinite x) becomes
          ;; 0, as in trunc_sat.
          (local.set $v (f32x4.div (f32x4.div (v128.load (local.get $p)) (local.get $m_splat)) (local.get $grid)))
          (local.set $low
            (v128.and
              (i32x4.sub (f32x4.add (f32x4.pmin (f32x4.pmax (local.get $v) (local.get $lowest)) (local.get $highest)) (local.get $magic))
                         (local.get $magic))
              (f32x4.eq (local.get $v) (local.get $v))))
          (local.set $v (f32x4.div (f32x4.div (v128.load offset=16 (local.get $p)) (local.get $m_splat)) (local.get $grid)))
          (local.set $high
            (v128.and
              (i32x4.sub (f32x4.add (f32x4.pmin (f32x4.pmax (local.get $v) (local.get $lowest)) (local.get $highest)) (local.get $magic))
                         (local.get $magic))
              (f32x4.eq (local.get $v) (local.get $v))))
          (v128.store (local.get $q) (i16x8.narrow_i32x4_s (local.get $low) (local.get $high)))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (local.set $p (i32.add (local.get $p) (i32.const 32)))
          (br_if $quantize (i32.lt_u (local.get $p) (local.get $end))))
        (local.set $x (local.get $end))
        (local.set $row_max (i32.add (local.get $row_max) (i32.const 4)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $each_row)))
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
  ;; scales: f32 [N]). A row's sums are the same whichever loop computes them (exact integer
  ;; arithmetic), so the loops are free to be shaped for speed:
  ;; - Two activation rows against four weight rows at a time, 8 columns per step: weights are
  ;;   widened to int16 by the load itself (v128.load8x8_s) and multiplied with both rows by
  ;;   i32x4.dot_i16x8_s. V8 issues a loop body's loads ahead of its arithmetic, so what is live
  ;;   at once is every loaded vector plus the 8 accumulators: 2 + 4 + 8 fits x64's 15 usable
  ;;   vector registers, where 16 columns per step (4 + 8 + 8) spilled accumulators to the stack
  ;;   every step and ran 1.45× slower (GPT-2's MLP matmuls, 64 rows).
  ;; - Weight rows in blocks of 128 KiB: every row pair runs over one block before the
  ;;   next, so a block is read from memory once and from cache by the other pairs (the LM head's
  ;;   table is 38 MB: streaming it once per row pair would multiply its memory traffic by M / 2).
  ;; - An odd last row alone, 16 columns per step (one row's loads and accumulators fit).
  ;; The hot loops are written out in full rather than calling helpers: V8 did not inline a helper
  ;; call per 16 weights, which cost 3×; even one call per tile ahead of the loop (for the
  ;; multipliers) cost 8% in workerd.
  (func (export "matmul")
    (param $q i32) (param $row_max i32) (param $rows i32) (param $w i32) (param $scales i32)
    (param $N i32) (param $K i32) (param $out i32) (param $out_stride i32)
    (local $n i32) (local $m i32) (local $a i32) (local $a_end i32) (local $row_bytes i32)
    (local $block i32) (local $n_first i32) (local $n_last i32) (local $w0 i32)
    (local $k0 i32) (local $k1 i32) (local $k2 i32) (local $k3 i32) (local $multiplier v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $xa v128) (local $xb v128) (local $xa_high v128) (local $weights v128)
    (local.set $row_bytes (i32.shl (local.get $K) (i32.const 1)))
    ;; weight rows per block: 128 KiB of int8 weights, a multiple of 4, at least 4
    (local.set $block (i32.and (i32.div_u (i32.const 131072) (local.get $K)) (i32.const -4)))
    (local.set $block (select (local.get $block) (i32.const 4) (i32.ge_u (local.get $block) (i32.const 4))))
    (block $blocks_done
      (loop $each_block
        (br_if $blocks_done (i32.ge_u (local.get $n_first) (local.get $N)))
        (local.set $n_last
          (select (local.get $N) (i32.add (local.get $n_first) (local.get $block))
                  (i32.gt_u (i32.add (local.get $n_first) (local.get $block)) (local.get $N))))
        (local.set $m (i32.const 0))
        ;; two activation rows (m, m + 1) against each four weight rows of the block
        (block $pairs_done
          (loop $each_pair
            (br_if $pairs_done (i32.gt_u (i32.add (local.get $m) (i32.const 2)) (local.get $rows)))
            (local.set $n (local.get $n_first))
            (loop $each_tile
              (local.set $multiplier ;; MatMulIntegerToFloat's a_scale · b_scale[n .. n + 3], rounded to f32
                (f32x4.mul (f32x4.splat (global.get $inverse_qmax))
                           (v128.load (i32.add (local.get $scales) (i32.shl (local.get $n) (i32.const 2))))))
              (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $K))))
              (local.set $a (i32.add (local.get $q) (i32.mul (local.get $m) (local.get $row_bytes))))
              (local.set $a_end (i32.add (local.get $a) (local.get $row_bytes)))
              (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
              (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
              (local.set $b0 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
              (local.set $b2 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
              (local.set $k0 (local.get $w0))
              (local.set $k1 (i32.add (local.get $w0) (local.get $K)))
              (local.set $k2 (i32.add (local.get $w0) (i32.shl (local.get $K) (i32.const 1))))
              (local.set $k3 (i32.add (local.get $w0) (i32.mul (local.get $K) (i32.const 3))))
              (loop $each_8
                (local.set $xa (v128.load (local.get $a)))
                (local.set $xb (v128.load (i32.add (local.get $a) (local.get $row_bytes))))
                (local.set $weights (v128.load8x8_s (local.get $k0)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xa))))
                (local.set $b0 (i32x4.add (local.get $b0) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xb))))
                (local.set $weights (v128.load8x8_s (local.get $k1)))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xa))))
                (local.set $b1 (i32x4.add (local.get $b1) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xb))))
                (local.set $weights (v128.load8x8_s (local.get $k2)))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xa))))
                (local.set $b2 (i32x4.add (local.get $b2) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xb))))
                (local.set $weights (v128.load8x8_s (local.get $k3)))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xa))))
                (local.set $b3 (i32x4.add (local.get $b3) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xb))))
                (local.set $k0 (i32.add (local.get $k0) (i32.const 8)))
                (local.set $k1 (i32.add (local.get $k1) (i32.const 8)))
                (local.set $k2 (i32.add (local.get $k2) (i32.const 8)))
                (local.set $k3 (i32.add (local.get $k3) (i32.const 8)))
                (local.set $a (i32.add (local.get $a) (i32.const 16)))
                (br_if $each_8 (i32.lt_u (local.get $a) (local.get $a_end))))
              (call $store_row (local.get $out) (local.get $out_stride) (local.get $row_max) (local.get $m) (local.get $n)
                (local.get $multiplier) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))
              (call $store_row (local.get $out) (local.get $out_stride) (local.get $row_max) (i32.add (local.get $m) (i32.const 1)) (local.get $n)
                (local.get $multiplier) (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3))
              (local.set $n (i32.add (local.get $n) (i32.const 4)))
              (br_if $each_tile (i32.lt_u (local.get $n) (local.get $n_last))))
            (local.set $m (i32.add (local.get $m) (i32.const 2)))
            (br $each_pair)))
        ;; an odd last activation row alone (a loop that runs at most once)
        (block $single_done
          (loop $each_single
            (br_if $single_done (i32.gt_u (i32.add (local.get $m) (i32.const 1)) (local.get $rows)))
            (local.set $n (local.get $n_first))
            (loop $each_tile
              (local.set $multiplier ;; MatMulIntegerToFloat's a_scale · b_scale[n .. n + 3], rounded to f32
                (f32x4.mul (f32x4.splat (global.get $inverse_qmax))
                           (v128.load (i32.add (local.get $scales) (i32.shl (local.get $n) (i32.const 2))))))
              (local.set $w0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $K))))
              (local.set $a (i32.add (local.get $q) (i32.mul (local.get $m) (local.get $row_bytes))))
              (local.set $a_end (i32.add (local.get $a) (local.get $row_bytes)))
              (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
              (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
              (local.set $k0 (local.get $w0))
              (local.set $k1 (i32.add (local.get $w0) (local.get $K)))
              (local.set $k2 (i32.add (local.get $w0) (i32.shl (local.get $K) (i32.const 1))))
              (local.set $k3 (i32.add (local.get $w0) (i32.mul (local.get $K) (i32.const 3))))
              (loop $each_16
                (local.set $xa (v128.load (local.get $a)))
                (local.set $xa_high (v128.load offset=16 (local.get $a)))
                (local.set $a0 (i32x4.add (i32x4.add (local.get $a0)
                    (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $k0)) (local.get $xa)))
                    (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $k0)) (local.get $xa_high))))
                (local.set $a1 (i32x4.add (i32x4.add (local.get $a1)
                    (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $k1)) (local.get $xa)))
                    (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $k1)) (local.get $xa_high))))
                (local.set $a2 (i32x4.add (i32x4.add (local.get $a2)
                    (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $k2)) (local.get $xa)))
                    (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $k2)) (local.get $xa_high))))
                (local.set $a3 (i32x4.add (i32x4.add (local.get $a3)
                    (i32x4.dot_i16x8_s (v128.load8x8_s (local.get $k3)) (local.get $xa)))
                    (i32x4.dot_i16x8_s (v128.load8x8_s offset=8 (local.get $k3)) (local.get $xa_high))))
                (local.set $k0 (i32.add (local.get $k0) (i32.const 16)))
                (local.set $k1 (i32.add (local.get $k1) (i32.const 16)))
                (local.set $k2 (i32.add (local.get $k2) (i32.const 16)))
                (local.set $k3 (i32.add (local.get $k3) (i32.const 16)))
                (local.set $a (i32.add (local.get $a) (i32.const 32)))
                (br_if $each_16 (i32.lt_u (local.get $a) (local.get $a_end))))
              (call $store_row (local.get $out) (local.get $out_stride) (local.get $row_max) (local.get $m) (local.get $n)
                (local.get $multiplier) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))
              (local.set $n (i32.add (local.get $n) (i32.const 4)))
              (br_if $each_tile (i32.lt_u (local.get $n) (local.get $n_last))))
            (local.set $m (i32.add (local.get $m) (i32.const 1)))
            (br $each_single)))
        (local.set $n_first (local.get $n_last))
        (br $each_block)))
  )

  ;; The same product as `matmul`, faster for many rows: each four weight rows are widened to int16
  ;; once into scratch (8·K bytes) and every row pair reads them from there with plain loads.
  ;; Widening in the loop (load8x8_s) costs an extra vector operation per 8 weights and row pair,
  ;; which at many rows is what limits the loop; here it is paid once per four weight rows. Rows
  ;; run in the innermost loop, so the activations (rows · K · 2 bytes) should fit in cache: a few
  ;; dozen rows. For few rows `matmul` is faster: the widening is not paid back.
  (func (export "matmul_wide")
    (param $q i32) (param $row_max i32) (param $rows i32) (param $w i32) (param $scales i32)
    (param $N i32) (param $K i32) (param $out i32) (param $out_stride i32) (param $scratch i32)
    (local $n i32) (local $m i32) (local $a i32) (local $a_end i32) (local $row_bytes i32)
    (local $k0 i32) (local $k1 i32) (local $k2 i32) (local $k3 i32) (local $s i32) (local $s_end i32)
    (local $multiplier v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $xa v128) (local $xb v128) (local $weights v128) (local $b i32)
    (local.set $row_bytes (i32.shl (local.get $K) (i32.const 1)))
    (local.set $s_end (i32.add (local.get $scratch) (i32.shl (local.get $K) (i32.const 3))))
    (block $tiles_done
      (loop $each_tile
        (br_if $tiles_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $multiplier ;; MatMulIntegerToFloat's a_scale · b_scale[n .. n + 3], rounded to f32
          (f32x4.mul (f32x4.splat (global.get $inverse_qmax))
                     (v128.load (i32.add (local.get $scales) (i32.shl (local.get $n) (i32.const 2))))))
        ;; weight rows n .. n + 3 widened to int16 once for all the rows, 8 columns of each in turn
        ;; (scratch: [K / 8][4][8] i16, one pointer for all four)
        (local.set $k0 (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $K))))
        (local.set $k1 (i32.add (local.get $k0) (local.get $K)))
        (local.set $k2 (i32.add (local.get $k1) (local.get $K)))
        (local.set $k3 (i32.add (local.get $k2) (local.get $K)))
        (local.set $s (local.get $scratch))
        (loop $widen
          (v128.store offset=0 (local.get $s) (v128.load8x8_s (local.get $k0)))
          (v128.store offset=16 (local.get $s) (v128.load8x8_s (local.get $k1)))
          (v128.store offset=32 (local.get $s) (v128.load8x8_s (local.get $k2)))
          (v128.store offset=48 (local.get $s) (v128.load8x8_s (local.get $k3)))
          (local.set $k0 (i32.add (local.get $k0) (i32.const 8)))
          (local.set $k1 (i32.add (local.get $k1) (i32.const 8)))
          (local.set $k2 (i32.add (local.get $k2) (i32.const 8)))
          (local.set $k3 (i32.add (local.get $k3) (i32.const 8)))
          (local.set $s (i32.add (local.get $s) (i32.const 64)))
          (br_if $widen (i32.lt_u (local.get $s) (local.get $s_end))))
        (local.set $m (i32.const 0))
        ;; two activation rows (m, m + 1) against the widened rows; b: row m + 1, its own pointer
        ;; (workerd checks bounds per load, and a pointer of its own was cheaper there than a + K)
        (block $pairs_done
          (loop $each_pair
            (br_if $pairs_done (i32.gt_u (i32.add (local.get $m) (i32.const 2)) (local.get $rows)))
            (local.set $a (i32.add (local.get $q) (i32.mul (local.get $m) (local.get $row_bytes))))
            (local.set $a_end (i32.add (local.get $a) (local.get $row_bytes)))
            (local.set $b (local.get $a_end))
            (local.set $s (local.get $scratch))
            (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $b0 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
            (local.set $b2 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
            (loop $each_8
              (local.set $xa (v128.load (local.get $a)))
              (local.set $xb (v128.load (local.get $b)))
              (local.set $weights (v128.load offset=0 (local.get $s)))
              (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xa))))
              (local.set $b0 (i32x4.add (local.get $b0) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xb))))
              (local.set $weights (v128.load offset=16 (local.get $s)))
              (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xa))))
              (local.set $b1 (i32x4.add (local.get $b1) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xb))))
              (local.set $weights (v128.load offset=32 (local.get $s)))
              (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xa))))
              (local.set $b2 (i32x4.add (local.get $b2) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xb))))
              (local.set $weights (v128.load offset=48 (local.get $s)))
              (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xa))))
              (local.set $b3 (i32x4.add (local.get $b3) (i32x4.dot_i16x8_s (local.get $weights) (local.get $xb))))
              (local.set $s (i32.add (local.get $s) (i32.const 64)))
              (local.set $b (i32.add (local.get $b) (i32.const 16)))
              (local.set $a (i32.add (local.get $a) (i32.const 16)))
              (br_if $each_8 (i32.lt_u (local.get $a) (local.get $a_end))))
            (call $store_row (local.get $out) (local.get $out_stride) (local.get $row_max) (local.get $m) (local.get $n)
              (local.get $multiplier) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))
            (call $store_row (local.get $out) (local.get $out_stride) (local.get $row_max) (i32.add (local.get $m) (i32.const 1)) (local.get $n)
              (local.get $multiplier) (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3))
            (local.set $m (i32.add (local.get $m) (i32.const 2)))
            (br $each_pair)))
        ;; an odd last activation row alone
        (block $single_done
          (loop $each_single
            (br_if $single_done (i32.ge_u (local.get $m) (local.get $rows)))
            (local.set $a (i32.add (local.get $q) (i32.mul (local.get $m) (local.get $row_bytes))))
            (local.set $a_end (i32.add (local.get $a) (local.get $row_bytes)))
            (local.set $s (local.get $scratch))
            (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
            (loop $each_8
              (local.set $xa (v128.load (local.get $a)))
              (local.set $a0 (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (v128.load offset=0 (local.get $s)) (local.get $xa))))
              (local.set $a1 (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (v128.load offset=16 (local.get $s)) (local.get $xa))))
              (local.set $a2 (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (v128.load offset=32 (local.get $s)) (local.get $xa))))
              (local.set $a3 (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (v128.load offset=48 (local.get $s)) (local.get $xa))))
              (local.set $s (i32.add (local.get $s) (i32.const 64)))
              (local.set $a (i32.add (local.get $a) (i32.const 16)))
              (br_if $each_8 (i32.lt_u (local.get $a) (local.get $a_end))))
            (call $store_row (local.get $out) (local.get $out_stride) (local.get $row_max) (local.get $m) (local.get $n)
              (local.get $multiplier) (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3))
            (local.set $m (i32.add (local.get $m) (i32.const 1)))
            (br $each_single)))
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

  ;; ---- A GPT-2 block's MLP (src/engine/lm-head/mlp.ts) --------------------------------------
  ;; c_fc → FastGelu → c_proj with the int8 weights in `matmul`'s layout; these are the graph's
  ;; other operations around the two matmuls, each exactly as onnxruntime's CPU kernel does it, so
  ;; the block's output is the graph's bit for bit. Every one is plain f32 arithmetic without FMA
  ;; (WebAssembly fixed-width SIMD has none), in onnxruntime's order of operations.

  ;; x[m, n] += bias[n] in place, x: f32 [rows, N], N a multiple of 4: the graph's Add of the
  ;; linear's bias after its Mul by the row's max|x|.
  (func (export "add_bias") (param $x i32) (param $rows i32) (param $N i32) (param $bias i32)
    (local $end i32) (local $b i32) (local $row_end i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.mul (local.get $rows) (local.get $N)) (i32.const 2))))
    (block $done
      (loop $each_row
        (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
        (local.set $row_end (i32.add (local.get $x) (i32.shl (local.get $N) (i32.const 2))))
        (local.set $b (local.get $bias))
        (loop $each_4
          (v128.store (local.get $x) (f32x4.add (v128.load (local.get $x)) (v128.load (local.get $b))))
          (local.set $b (i32.add (local.get $b) (i32.const 16)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (br_if $each_4 (i32.lt_u (local.get $x) (local.get $row_end))))
        (br $each_row)))
  )

  ;; out[m, n] += Σ_j picked[m, j] · rows[j, n] for the outlier channels a linear keeps in fp32
  ;; (int8-format.ts: Gather + MatMul beside the int8 product, then Add). picked: f32
  ;; [rows, count], the outlier channels' activations; fp32_rows: f32 [count, N]; out: f32
  ;; [rows, N], N a multiple of 16. The sum is formed as onnxruntime's MLAS SGEMM kernel forms it
  ;; and only then added to out: starting from 0, one product at a time in channel order, each
  ;; product rounded before its addition — a different order gives different bits.
  (func (export "add_outlier_product")
    (param $picked i32) (param $rows i32) (param $count i32) (param $fp32_rows i32) (param $N i32) (param $out i32)
    (local $m i32) (local $n i32) (local $j i32) (local $a i32) (local $r i32) (local $o i32) (local $N4 i32)
    (local $v v128) (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $N4 (i32.shl (local.get $N) (i32.const 2)))
    (block $rows_done
      (loop $each_row
        (br_if $rows_done (i32.ge_u (local.get $m) (local.get $rows)))
        (local.set $n (i32.const 0))
        (loop $each_16
          ;; 16 columns (four independent sums) per pass over the few outlier channels
          (local.set $s0 (v128.const i32x4 0 0 0 0)) (local.set $s1 (v128.const i32x4 0 0 0 0))
          (local.set $s2 (v128.const i32x4 0 0 0 0)) (local.set $s3 (v128.const i32x4 0 0 0 0))
          (local.set $a (i32.add (local.get $picked) (i32.shl (i32.mul (local.get $m) (local.get $count)) (i32.const 2))))
          (local.set $r (i32.add (local.get $fp32_rows) (i32.shl (local.get $n) (i32.const 2))))
          (local.set $j (i32.const 0))
          (block $channels_done
            (loop $each_channel
              (br_if $channels_done (i32.ge_u (local.get $j) (local.get $count)))
              (local.set $v (v128.load32_splat (local.get $a)))
              (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $v) (v128.load (local.get $r)))))
              (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $v) (v128.load offset=16 (local.get $r)))))
              (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (local.get $v) (v128.load offset=32 (local.get $r)))))
              (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (local.get $v) (v128.load offset=48 (local.get $r)))))
              (local.set $a (i32.add (local.get $a) (i32.const 4)))
              (local.set $r (i32.add (local.get $r) (local.get $N4)))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br $each_channel)))
          (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $m) (local.get $N)) (local.get $n)) (i32.const 2))))
          (v128.store (local.get $o) (f32x4.add (v128.load (local.get $o)) (local.get $s0)))
          (v128.store offset=16 (local.get $o) (f32x4.add (v128.load offset=16 (local.get $o)) (local.get $s1)))
          (v128.store offset=32 (local.get $o) (f32x4.add (v128.load offset=32 (local.get $o)) (local.get $s2)))
          (v128.store offset=48 (local.get $o) (f32x4.add (v128.load offset=48 (local.get $o)) (local.get $s3)))
          (local.set $n (i32.add (local.get $n) (i32.const 16)))
          (br_if $each_16 (i32.lt_u (local.get $n) (local.get $N))))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $each_row)))
  )

  ;; FastGelu (com.microsoft) in place over x: f32 [count], count a multiple of 4 — onnxruntime's
  ;; CPU kernel (contrib_ops/cpu/bert/bias_gelu.cc) with MLAS's tanh (MlasTanhKernel, a rational
  ;; polynomial on [-9, 9]), operation for operation:
  ;;   t = v · ((C·v)·v + B);  th = p(t) / q(t);  out = (0.5·v) · (th + 1)
  ;; The constants are those f32 values written exactly (hex), not the decimal digits' roundings.
  (func (export "fast_gelu") (param $x i32) (param $count i32)
    (local $end i32) (local $v v128) (local $t v128) (local $t2 v128) (local $p v128) (local $q v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (loop $each_4
        (local.set $v (v128.load (local.get $x)))
        ;; B = f32(√(2/π)), C = f32(0.044715·√(2/π))
        (local.set $t
          (f32x4.mul (local.get $v)
            (f32x4.add (f32x4.mul (f32x4.mul (v128.const f32x4 0x1.2444f2p-5 0x1.2444f2p-5 0x1.2444f2p-5 0x1.2444f2p-5) (local.get $v)) (local.get $v))
                       (v128.const f32x4 0x1.988454p-1 0x1.988454p-1 0x1.988454p-1 0x1.988454p-1))))
        ;; tanh: clamp to [-9, 9], then p / q in t² (Horner, a mul then an add at each step). The
        ;; clamp by pmax / pmin, one x64 instruction each (NaN-aware max / min are several): they
        ;; differ only for a NaN t, which comes from a NaN v and stays NaN here too.
        (local.set $t (f32x4.pmin (f32x4.pmax (local.get $t) (v128.const f32x4 -9 -9 -9 -9)) (v128.const f32x4 9 9 9 9)))
        (local.set $t2 (f32x4.mul (local.get $t) (local.get $t)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $t2) (v128.const f32x4 -0x1.3e4b80p-52 -0x1.3e4b80p-52 -0x1.3e4b80p-52 -0x1.3e4b80p-52))
                                 (v128.const f32x4 0x1.c266fcp-43 0x1.c266fcp-43 0x1.c266fcp-43 0x1.c266fcp-43)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t2)) (v128.const f32x4 -0x1.7a6ffep-34 -0x1.7a6ffep-34 -0x1.7a6ffep-34 -0x1.7a6ffep-34)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t2)) (v128.const f32x4 0x1.b80082p-25 0x1.b80082p-25 0x1.b80082p-25 0x1.b80082p-25)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t2)) (v128.const f32x4 0x1.f28694p-17 0x1.f28694p-17 0x1.f28694p-17 0x1.f28694p-17)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t2)) (v128.const f32x4 0x1.4e1bdap-11 0x1.4e1bdap-11 0x1.4e1bdap-11 0x1.4e1bdap-11)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t2)) (v128.const f32x4 0x1.40b3b8p-8 0x1.40b3b8p-8 0x1.40b3b8p-8 0x1.40b3b8p-8)))
        (local.set $p (f32x4.mul (local.get $p) (local.get $t)))
        (local.set $q (f32x4.add (f32x4.mul (local.get $t2) (v128.const f32x4 0x1.41a7b0p-20 0x1.41a7b0p-20 0x1.41a7b0p-20 0x1.41a7b0p-20))
                                 (v128.const f32x4 0x1.f12bacp-14 0x1.f12bacp-14 0x1.f12bacp-14 0x1.f12bacp-14)))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $t2)) (v128.const f32x4 0x1.29540ap-9 0x1.29540ap-9 0x1.29540ap-9 0x1.29540ap-9)))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $t2)) (v128.const f32x4 0x1.40b3bap-8 0x1.40b3bap-8 0x1.40b3bap-8 0x1.40b3bap-8)))
        (v128.store (local.get $x)
          (f32x4.mul (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (local.get $v))
                     (f32x4.add (f32x4.div (local.get $p) (local.get $q)) (v128.const f32x4 1 1 1 1))))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (br_if $each_4 (i32.lt_u (local.get $x) (local.get $end)))))
  )
)

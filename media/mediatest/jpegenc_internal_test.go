package mediatest

import "testing"

// The Annex K tables as typed here are complete prefix codes over the right
// symbols: a mistyped count or value would make some block uncodable or the
// file undecodable.
func TestAnnexKHuffmanTables(t *testing.T) {
	for i, spec := range annexKHuffman {
		total := 0
		for _, n := range spec.counts {
			total += int(n)
		}
		if total != len(spec.values) {
			t.Errorf("table %d: counts sum to %d, %d values", i, total, len(spec.values))
		}
		want := map[uint8]bool{}
		if i < 2 {
			for s := range 12 {
				want[uint8(s)] = true
			}
		} else {
			want[0x00], want[0xF0] = true, true
			for run := range 16 {
				for size := 1; size <= 10; size++ {
					want[uint8(run<<4|size)] = true
				}
			}
		}
		seen := map[uint8]bool{}
		for _, v := range spec.values {
			if seen[v] || !want[v] {
				t.Errorf("table %d: symbol %#02x repeated or unexpected", i, v)
			}
			seen[v] = true
		}
		if len(seen) != len(want) {
			t.Errorf("table %d: %d symbols, want %d", i, len(seen), len(want))
		}
		// Kraft: the codes fit, and no code is all ones (T.81 C: reserved).
		space := 1 << 16
		for l, n := range spec.counts {
			space -= int(n) << (15 - l)
		}
		if space <= 0 {
			t.Errorf("table %d: over-full code (%d left)", i, space)
		}
		codes := annexKCodes[i]
		for _, v := range spec.values {
			c := codes[v]
			if c.code == 1<<c.size-1 {
				t.Errorf("table %d: symbol %#02x has the all-ones code", i, v)
			}
		}
	}
}

func TestZigzag(t *testing.T) {
	want := map[int]int{0: 0, 1: 1, 2: 8, 3: 16, 4: 9, 5: 2, 6: 3, 14: 4, 15: 5, 20: 40, 35: 56, 63: 63}
	for k, nat := range want {
		if zigzag[k] != nat {
			t.Errorf("zigzag[%d] = %d, want %d", k, zigzag[k], nat)
		}
	}
	seen := map[int]bool{}
	for _, n := range zigzag {
		seen[n] = true
	}
	if len(seen) != 64 {
		t.Errorf("zigzag covers %d positions", len(seen))
	}
}

func TestScaleQuant(t *testing.T) {
	if q := scaleQuant(&annexKLuminance, 50); q != annexKLuminance {
		t.Error("quality 50 changes the table")
	}
	if q := scaleQuant(&annexKLuminance, 100); q[0] != 1 || q[63] != 1 {
		t.Errorf("quality 100: %d, %d", q[0], q[63])
	}
	// IJG: quality 90 scales by 20%, quality 10 by 500% (capped at 255).
	if q := scaleQuant(&annexKLuminance, 90); q[0] != 3 || q[1] != 2 {
		t.Errorf("quality 90: %d, %d", q[0], q[1])
	}
	if q := scaleQuant(&annexKChrominance, 10); q[0] != 85 || q[63] != 255 {
		t.Errorf("quality 10: %d, %d", q[0], q[63])
	}
}

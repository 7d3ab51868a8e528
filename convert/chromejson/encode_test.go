package chromejson

import "testing"

func TestAppendMicros(t *testing.T) {
	for ns, want := range map[int64]string{
		0: "0", 1: "0.001", 10: "0.01", 999: "0.999", 1000: "1", 1500: "1.5",
		1234567: "1234.567", 1234500: "1234.5", -1: "-0.001", -1500: "-1.5",
		9223372036854775807: "9223372036854775.807", -9223372036854775808: "-9223372036854775.808",
	} {
		if got := string(appendMicros(nil, ns)); got != want {
			t.Errorf("appendMicros(%d) = %s, want %s", ns, got, want)
		}
	}
}

"""Fixture tunes written for folkclip's tokenizer and decode tests."""

# A double jig in D with a pickup, guitar chords, a roll, broken rhythm, a tie inside
# a bar and one across a bar line, repeats with 1st/2nd endings, a K: line changing
# to G mid-tune, a triplet and a meter change 6/8 -> 9/8 -> 6/8.
JIG = """X:1
T:Test Jig, The
R:jig
M:6/8
L:1/8
K:D
A|:"D"d2A ~B2A|"G"GBd g2e|"D"f>ef dAF|1"A"E3-E2A:|2"A"E3 D3||
K:G
"G"g2d (3Bcd e|dBG d3-|dBA GFE|[M:9/8]"C"cBA GAB c2e|[M:6/8]"D"d3 D3|]
"""

# A reel in A dorian (F#): roll, broken rhythm, an accidental (^G) that must not
# last into the next bar, a triplet, repeats with endings.
REEL = """X:2
T:Test Reel
R:reel
M:4/4
L:1/8
K:Ador
|:EA~A2 ABcd|e2dB G>AB^G|(3ABA GB AGEG|1DEGA BAA2:|2DEGA BA A2||
"""

# A hornpipe in Bb (flat key) with a pickup, a natural sign, an inline key change
# to Eb and a chord symbol with a flat.
HORN = """X:3
T:Test Hornpipe
R:hornpipe
M:4/4
L:1/8
K:Bb
FE|D2F2 B2dc|BAGF E=EFG|[K:Eb]_A2GF E2D2|"Bb"B6|]
"""

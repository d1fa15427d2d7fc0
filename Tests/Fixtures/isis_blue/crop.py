"""Makes the ISIS blue test fixtures from the raw frames: keeps columns FIRST..FIRST+WIDTH-1
(1-based) of the image extension, every row, every header card (NAXIS1 changed, one HISTORY
card added), the pixel values unchanged. Standard library only.

    python3 crop.py <raw .fit.gz> <out .fit.gz>
"""
import gzip, sys

FIRST, WIDTH = 142, 200   # columns 142-341 of 483: the slit centre and the arc aperture


def cards(block):
    return [block[i:i + 80] for i in range(0, len(block), 80)]


def read_hdu(raw, offset):
    header = []
    while True:
        block = raw[offset:offset + 2880]
        offset += 2880
        header += cards(block)
        if any(c[:8] == b'END     ' for c in cards(block)):
            break
    header = header[:[c[:8] for c in header].index(b'END     ')]
    value = lambda key: int(next(c for c in header if c[:8] == key.ljust(8).encode())[10:30])
    naxis = value('NAXIS')
    size = 0
    if naxis:
        size = abs(value('BITPIX')) // 8
        for k in range(1, naxis + 1):
            size *= value('NAXIS%d' % k)
    data = raw[offset:offset + size]
    offset += (size + 2879) // 2880 * 2880
    return header, data, offset


def write_hdu(header, data):
    text = b''.join(header) + b'END'.ljust(80)
    text += b' ' * ((2880 - len(text) % 2880) % 2880)
    return text + data + b'\0' * ((2880 - len(data) % 2880) % 2880)


raw = gzip.open(sys.argv[1]).read()
primary, pdata, offset = read_hdu(raw, 0)
ext, data, _ = read_hdu(raw, offset)
width = int(next(c for c in ext if c[:8] == b'NAXIS1  ')[10:30])
height = int(next(c for c in ext if c[:8] == b'NAXIS2  ')[10:30])
rows = [data[(y * width + FIRST - 1) * 2:(y * width + FIRST - 1 + WIDTH) * 2] for y in range(height)]
ext = [(b'NAXIS1  = ' + str(WIDTH).rjust(20).encode() + b' /').ljust(80) if c[:8] == b'NAXIS1  ' else c for c in ext]
ext.append(('HISTORY calibd test fixture: columns %d-%d of %d kept, values unchanged' % (FIRST, FIRST + WIDTH - 1, width)).encode().ljust(80))
with gzip.open(sys.argv[2], 'wb', compresslevel=9) as out:
    out.write(write_hdu(primary, pdata) + write_hdu(ext, b''.join(rows)))

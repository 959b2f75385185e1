package featurize

/*
#cgo LDFLAGS: -ltiff -llcms2
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <tiffio.h>
#include <lcms2.h>

// Pillow 9.4's unpackers (Unpack.c) for the (mode, rawmode) pairs its TIFF
// plugin can ask for, so both the raw path and the libtiff path shuffle
// pixels exactly as Pillow does. Images are laid out as Pillow's: 1, 2 or
// 4 bytes a pixel.

typedef void (*ft_shuffler)(uint8_t *out, const uint8_t *in, int pixels);

static const uint8_t FT_BITFLIP[256] = {
    0,128,64,192,32,160,96,224,16,144,80,208,48,176,112,240,8,136,72,200,40,168,104,232,24,152,88,216,56,184,120,248,
    4,132,68,196,36,164,100,228,20,148,84,212,52,180,116,244,12,140,76,204,44,172,108,236,28,156,92,220,60,188,124,252,
    2,130,66,194,34,162,98,226,18,146,82,210,50,178,114,242,10,138,74,202,42,170,106,234,26,154,90,218,58,186,122,250,
    6,134,70,198,38,166,102,230,22,150,86,214,54,182,118,246,14,142,78,206,46,174,110,238,30,158,94,222,62,190,126,254,
    1,129,65,193,33,161,97,225,17,145,81,209,49,177,113,241,9,137,73,201,41,169,105,233,25,153,89,217,57,185,121,249,
    5,133,69,197,37,165,101,229,21,149,85,213,53,181,117,245,13,141,77,205,45,173,109,237,29,157,93,221,61,189,125,253,
    3,131,67,195,35,163,99,227,19,147,83,211,51,179,115,243,11,139,75,203,43,171,107,235,27,155,91,219,59,187,123,251,
    7,135,71,199,39,167,103,231,23,151,87,215,55,183,119,247,15,143,79,207,47,175,111,239,31,159,95,223,63,191,127,255};

static inline uint8_t ft_clip8(int v) { return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v; }
static inline void ft_put4(uint8_t *o, int a, int b, int c, int d) { o[0] = a; o[1] = b; o[2] = c; o[3] = d; }

#define FT_BITS(NAME, NBITS, EXPR)                                    \
    static void NAME(uint8_t *out, const uint8_t *in, int pixels) {  \
        int per = 8 / NBITS, i = 0;                                    \
        while (pixels > 0) {                                           \
            uint8_t byte = *in++;                                      \
            for (i = 0; i < per && pixels > 0; i++, pixels--) {        \
                int v = EXPR;                                          \
                *out++ = (uint8_t)v;                                   \
            }                                                          \
        }                                                              \
    }
// Each reads bit field i of byte (msb first unless reversed).
#define MSB(n) ((byte >> (8 - n * (i + 1))) & ((1 << n) - 1))
#define LSB(n) ((FT_BITFLIP[byte] >> (8 - n * (i + 1))) & ((1 << n) - 1))
FT_BITS(unpack1, 1, MSB(1) ? 255 : 0)
FT_BITS(unpack1I, 1, MSB(1) ? 0 : 255)
FT_BITS(unpack1R, 1, LSB(1) ? 255 : 0)
FT_BITS(unpack1IR, 1, LSB(1) ? 0 : 255)
FT_BITS(unpackL2, 2, MSB(2) * 0x55)
FT_BITS(unpackL2I, 2, 0xFF - MSB(2) * 0x55)
FT_BITS(unpackL2R, 2, LSB(2) * 0x55)
FT_BITS(unpackL2IR, 2, 0xFF - LSB(2) * 0x55)
FT_BITS(unpackL4, 4, MSB(4) * 0x11)
FT_BITS(unpackL4I, 4, 0xFF - MSB(4) * 0x11)
FT_BITS(unpackL4R, 4, LSB(4) * 0x11)
FT_BITS(unpackL4IR, 4, 0xFF - LSB(4) * 0x11)
FT_BITS(unpackP1, 1, MSB(1))
FT_BITS(unpackP2, 2, MSB(2))
FT_BITS(unpackP4, 4, MSB(4))

static void copy1(uint8_t *out, const uint8_t *in, int n) { memcpy(out, in, n); }
static void copy2(uint8_t *out, const uint8_t *in, int n) { memcpy(out, in, 2 * (size_t)n); }
static void copy4(uint8_t *out, const uint8_t *in, int n) { memcpy(out, in, 4 * (size_t)n); }
static void copy4skip1(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 5, out += 4) memcpy(out, in, 4); }
static void copy4skip2(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 6, out += 4) memcpy(out, in, 4); }
static void unpackLI(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++) out[i] = ~in[i]; }
static void unpackLR(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++) out[i] = FT_BITFLIP[in[i]]; }
static void unpackLA(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 2, out += 4) ft_put4(out, in[0], in[0], in[0], in[1]); }
static void unpackRGB(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 3, out += 4) ft_put4(out, in[0], in[1], in[2], 255); }
static void unpackRGBR(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 3, out += 4) ft_put4(out, FT_BITFLIP[in[0]], FT_BITFLIP[in[1]], FT_BITFLIP[in[2]], 255); }
static void unpackRGB16L(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 6, out += 4) ft_put4(out, in[1], in[3], in[5], 255); }
static void unpackRGB16B(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 6, out += 4) ft_put4(out, in[0], in[2], in[4], 255); }
static void unpackRGBA16L(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 8, out += 4) ft_put4(out, in[1], in[3], in[5], in[7]); }
static void unpackRGBA16B(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 8, out += 4) ft_put4(out, in[0], in[2], in[4], in[6]); }
static inline void ft_unpremul(uint8_t *out, int r, int g, int b, int a) {
    if (!a) ft_put4(out, 0, 0, 0, 0);
    else if (a == 255) ft_put4(out, r, g, b, a);
    else ft_put4(out, ft_clip8(r * 255 / a), ft_clip8(g * 255 / a), ft_clip8(b * 255 / a), a);
}
static void unpackRGBa(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 4, out += 4) ft_unpremul(out, in[0], in[1], in[2], in[3]); }
static void unpackRGBaskip1(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 5, out += 4) ft_unpremul(out, in[0], in[1], in[2], in[3]); }
static void unpackRGBaskip2(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 6, out += 4) ft_unpremul(out, in[0], in[1], in[2], in[3]); }
static void unpackRGBa16L(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 8, out += 4) ft_unpremul(out, in[1], in[3], in[5], in[7]); }
static void unpackRGBa16B(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 8, out += 4) ft_unpremul(out, in[0], in[2], in[4], in[6]); }
static void unpackLAB(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 3, out += 4) ft_put4(out, in[0], in[1] ^ 128, in[2] ^ 128, 255); }
#define FT_BAND(NAME, B, STEP, OFF, INV) static void NAME(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += STEP, out += 4) out[B] = INV in[OFF]; }
FT_BAND(band0, 0, 1, 0, ) FT_BAND(band1, 1, 1, 0, ) FT_BAND(band2, 2, 1, 0, ) FT_BAND(band3, 3, 1, 0, )
FT_BAND(band0I, 0, 1, 0, ~) FT_BAND(band1I, 1, 1, 0, ~) FT_BAND(band2I, 2, 1, 0, ~) FT_BAND(band3I, 3, 1, 0, ~)
FT_BAND(band016L, 0, 2, 1, ) FT_BAND(band116L, 1, 2, 1, ) FT_BAND(band216L, 2, 2, 1, ) FT_BAND(band316L, 3, 2, 1, )
FT_BAND(band016B, 0, 2, 0, ) FT_BAND(band116B, 1, 2, 0, ) FT_BAND(band216B, 2, 2, 0, ) FT_BAND(band316B, 3, 2, 0, )
static void swap2(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 2, out += 2) { out[0] = in[1]; out[1] = in[0]; } }
static void flip2(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 2, out += 2) { out[0] = FT_BITFLIP[in[0]]; out[1] = FT_BITFLIP[in[1]]; } }
static void swap4(uint8_t *out, const uint8_t *in, int n) { for (int i = 0; i < n; i++, in += 4, out += 4) { out[0] = in[3]; out[1] = in[2]; out[2] = in[1]; out[3] = in[0]; } }
static void unpackI12_I16(uint8_t *out, const uint8_t *in, int pixels) {
    int i; uint16_t p;
    for (i = 0; i < pixels - 1; i += 2) {
        p = (((uint16_t)in[0]) << 4) + (in[1] >> 4); memcpy(out, &p, 2); out += 2;
        p = (((uint16_t)(in[1] & 0x0F)) << 8) + in[2]; memcpy(out, &p, 2); out += 2;
        in += 3;
    }
    if (i == pixels - 1) { p = (((uint16_t)in[0]) << 4) + (in[1] >> 4); memcpy(out, &p, 2); }
}
#define FT_TOI32(NAME, T, SWAP) static void NAME(uint8_t *out, const uint8_t *in, int n) { \
    for (int i = 0; i < n; i++, in += sizeof(T), out += 4) { uint8_t t[sizeof(T)]; T v; \
        for (size_t k = 0; k < sizeof(T); k++) t[k] = SWAP ? in[sizeof(T) - 1 - k] : in[k]; \
        memcpy(&v, t, sizeof(T)); int32_t o = (int32_t)v; memcpy(out, &o, 4); } }
FT_TOI32(unpackI16S, int16_t, 0)
FT_TOI32(unpackI16BS, int16_t, 1)

static const struct { const char *mode, *rawmode; int bits; ft_shuffler fn; } ft_unpackers[] = {
    {"1", "1", 1, unpack1}, {"1", "1;I", 1, unpack1I}, {"1", "1;R", 1, unpack1R}, {"1", "1;IR", 1, unpack1IR},
    {"L", "L;2", 2, unpackL2}, {"L", "L;2I", 2, unpackL2I}, {"L", "L;2R", 2, unpackL2R}, {"L", "L;2IR", 2, unpackL2IR},
    {"L", "L;4", 4, unpackL4}, {"L", "L;4I", 4, unpackL4I}, {"L", "L;4R", 4, unpackL4R}, {"L", "L;4IR", 4, unpackL4IR},
    {"L", "L", 8, copy1}, {"L", "L;I", 8, unpackLI}, {"L", "L;R", 8, unpackLR},
    {"LA", "LA", 16, unpackLA},
    {"P", "P;1", 1, unpackP1}, {"P", "P;2", 2, unpackP2}, {"P", "P;4", 4, unpackP4}, {"P", "P", 8, copy1},
    {"P", "P;R", 8, unpackLR}, {"P", "L", 8, copy1},
    {"PA", "PA", 16, unpackLA}, {"PA", "LA", 16, unpackLA},
    {"RGB", "RGB", 24, unpackRGB}, {"RGB", "RGB;R", 24, unpackRGBR}, {"RGB", "RGB;16L", 48, unpackRGB16L},
    {"RGB", "RGB;16B", 48, unpackRGB16B}, {"RGB", "RGBX", 32, copy4},
    {"RGB", "R", 8, band0}, {"RGB", "G", 8, band1}, {"RGB", "B", 8, band2},
    {"RGB", "R;16L", 16, band016L}, {"RGB", "G;16L", 16, band116L}, {"RGB", "B;16L", 16, band216L},
    {"RGB", "R;16B", 16, band016B}, {"RGB", "G;16B", 16, band116B}, {"RGB", "B;16B", 16, band216B},
    {"RGBA", "LA", 16, unpackLA}, {"RGBA", "RGBA", 32, copy4}, {"RGBA", "RGBAX", 40, copy4skip1},
    {"RGBA", "RGBAXX", 48, copy4skip2}, {"RGBA", "RGBa", 32, unpackRGBa}, {"RGBA", "RGBaX", 40, unpackRGBaskip1},
    {"RGBA", "RGBaXX", 48, unpackRGBaskip2}, {"RGBA", "RGBa;16L", 64, unpackRGBa16L},
    {"RGBA", "RGBa;16B", 64, unpackRGBa16B}, {"RGBA", "RGBA;16L", 64, unpackRGBA16L},
    {"RGBA", "RGBA;16B", 64, unpackRGBA16B},
    {"RGBA", "R", 8, band0}, {"RGBA", "G", 8, band1}, {"RGBA", "B", 8, band2}, {"RGBA", "A", 8, band3},
    {"RGBA", "R;16L", 16, band016L}, {"RGBA", "G;16L", 16, band116L}, {"RGBA", "B;16L", 16, band216L},
    {"RGBA", "A;16L", 16, band316L}, {"RGBA", "R;16B", 16, band016B}, {"RGBA", "G;16B", 16, band116B},
    {"RGBA", "B;16B", 16, band216B}, {"RGBA", "A;16B", 16, band316B},
    {"RGB", "RGB;16N", 48, unpackRGB16L}, {"RGBA", "RGBa;16N", 64, unpackRGBa16L},
    {"RGBA", "RGBA;16N", 64, unpackRGBA16L}, {"RGBX", "RGBX;16N", 64, unpackRGBA16L},
    {"RGB", "R;16N", 16, band016L}, {"RGB", "G;16N", 16, band116L}, {"RGB", "B;16N", 16, band216L},
    {"RGBA", "R;16N", 16, band016L}, {"RGBA", "G;16N", 16, band116L}, {"RGBA", "B;16N", 16, band216L},
    {"RGBA", "A;16N", 16, band316L},
    {"RGBX", "RGB", 24, unpackRGB}, {"RGBX", "RGB;16B", 48, unpackRGB16B}, {"RGBX", "RGBX", 32, copy4},
    {"RGBX", "RGBXX", 40, copy4skip1}, {"RGBX", "RGBXXX", 48, copy4skip2}, {"RGBX", "RGBX;16L", 64, unpackRGBA16L},
    {"RGBX", "RGBX;16B", 64, unpackRGBA16B},
    {"RGBX", "R", 8, band0}, {"RGBX", "G", 8, band1}, {"RGBX", "B", 8, band2}, {"RGBX", "X", 8, band3},
    {"CMYK", "CMYK", 32, copy4}, {"CMYK", "CMYKX", 40, copy4skip1}, {"CMYK", "CMYKXX", 48, copy4skip2},
    {"CMYK", "CMYK;16L", 64, unpackRGBA16L}, {"CMYK", "CMYK;16B", 64, unpackRGBA16B},
    {"CMYK", "C", 8, band0}, {"CMYK", "M", 8, band1}, {"CMYK", "Y", 8, band2}, {"CMYK", "K", 8, band3},
    {"CMYK", "C;I", 8, band0I}, {"CMYK", "M;I", 8, band1I}, {"CMYK", "Y;I", 8, band2I}, {"CMYK", "K;I", 8, band3I},
    {"CMYK", "CMYK;16N", 64, unpackRGBA16L},
    {"LAB", "LAB", 24, unpackLAB}, {"LAB", "L", 8, band0}, {"LAB", "A", 8, band1}, {"LAB", "B", 8, band2},
    {"I", "I", 32, copy4}, {"I", "I;16S", 16, unpackI16S}, {"I", "I;16BS", 16, unpackI16BS},
    {"I", "I;32", 32, copy4}, {"I", "I;32S", 32, copy4}, {"I", "I;32B", 32, swap4}, {"I", "I;32BS", 32, swap4},
    {"I", "I;32N", 32, copy4}, {"I", "I;32NS", 32, copy4},
    {"F", "F", 32, copy4}, {"F", "F;32F", 32, copy4}, {"F", "F;32BF", 32, swap4}, {"F", "F;32NF", 32, copy4},
    {"I;16", "I;16", 16, copy2}, {"I;16B", "I;16B", 16, copy2}, {"I;16", "I;16B", 16, swap2},
    {"I;16", "I;16N", 16, copy2}, {"I;16B", "I;16N", 16, swap2}, {"I;16", "I;16R", 16, flip2},
    {"I;16", "I;12", 12, unpackI12_I16},
    {NULL, NULL, 0, NULL}};

// ft_find is ImagingFindUnpacker: the table index, or -1.
static int ft_find(const char *mode, const char *rawmode, int *bits) {
    for (int i = 0; ft_unpackers[i].mode; i++) {
        if (!strcmp(ft_unpackers[i].mode, mode) && !strcmp(ft_unpackers[i].rawmode, rawmode)) {
            *bits = ft_unpackers[i].bits;
            return i;
        }
    }
    return -1;
}

// ft_unpack_rows shuffles rows of raw data into image rows (Pillow's raw
// decoder once it has all the bytes it needs).
static void ft_unpack_rows(int idx, uint8_t *out, long outstride, const uint8_t *in, long instride, int rows, int pixels) {
    ft_shuffler fn = ft_unpackers[idx].fn;
    for (int y = 0; y < rows; y++) fn(out + y * outstride, in + y * instride, pixels);
}

// --- libtiff, as TiffDecode.c drives it -------------------------------

typedef struct {
    const uint8_t *data;
    toff_t size, loc;
    char err[256];
} ft_state;

static tsize_t ft_read(thandle_t h, tdata_t buf, tsize_t size) {
    ft_state *s = (ft_state *)h;
    if (s->loc > s->size) return 0;
    tsize_t n = size;
    if ((toff_t)n > s->size - s->loc) n = (tsize_t)(s->size - s->loc);
    memcpy(buf, s->data + s->loc, n);
    s->loc += n;
    return n;
}
static tsize_t ft_write(thandle_t h, tdata_t buf, tsize_t size) { (void)h; (void)buf; (void)size; return 0; }
static toff_t ft_seek(thandle_t h, toff_t off, int whence) {
    ft_state *s = (ft_state *)h;
    switch (whence) {
    case 0: s->loc = off; break;
    case 1: s->loc += off; break;
    case 2: s->loc = s->size + off; break;
    }
    return s->loc;
}
static int ft_close(thandle_t h) { (void)h; return 0; }
static toff_t ft_size(thandle_t h) { return ((ft_state *)h)->size; }
static int ft_map(thandle_t h, tdata_t *base, toff_t *size) {
    ft_state *s = (ft_state *)h;
    *base = (tdata_t)s->data;
    *size = s->size;
    return 1;
}
static void ft_unmap(thandle_t h, tdata_t base, toff_t size) { (void)h; (void)base; (void)size; }

// Errors go to the call's own state, never to stderr; the first one is
// the reason given.
static int ft_on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)module;
    ft_state *s = (ft_state *)user;
    if (s && !s->err[0]) vsnprintf(s->err, sizeof s->err, fmt, ap);
    return 1;
}
static int ft_on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

static void ft_quiet_globals(void) {
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    TIFFSetErrorHandlerExt(NULL);
    TIFFSetWarningHandlerExt(NULL);
}

typedef struct {
    uint8_t *im;      // Pillow image memory, ysize rows of linesize bytes
    long linesize;
    int pixelsize, bands, xsize, ysize, bits;
    int shuffle;      // unpacker index for (mode, rawmode)
    int is_rgba_mode; // im->mode == "RGBA"
} ft_image;

#define FT_ROW(img, y) ((img)->im + (long)(y) * (img)->linesize)

enum { FT_OK = 0, FT_BROKEN = -2, FT_MEMORY = -9, FT_OPEN = -100 };

static int ft_pick(ft_image *img, TIFF *tiff, uint16_t planar, int *unp) {
    if (planar == PLANARCONFIG_SEPARATE && img->bands > 1) {
        uint16_t bps = 8;
        int b;
        TIFFGetFieldDefaulted(tiff, TIFFTAG_BITSPERSAMPLE, &bps);
        if (bps != 8 && bps != 16) return -1;
        unp[0] = ft_find("RGBA", bps == 16 ? "R;16N" : "R", &b);
        unp[1] = ft_find("RGBA", bps == 16 ? "G;16N" : "G", &b);
        unp[2] = ft_find("RGBA", bps == 16 ? "B;16N" : "B", &b);
        unp[3] = ft_find("RGBA", bps == 16 ? "A;16N" : "A", &b);
        return img->bands;
    }
    unp[0] = img->shuffle;
    return 1;
}

static int ft_decode_rgba(ft_image *img, TIFF *tiff) {
    uint32_t rows_per_block;
    int ret, err = FT_OK;
    TIFFRGBAImage rimg;
    char emsg[1024] = "";
    uint8_t *buf;
    if (TIFFIsTiled(tiff)) ret = TIFFGetFieldDefaulted(tiff, TIFFTAG_TILELENGTH, &rows_per_block);
    else ret = TIFFGetFieldDefaulted(tiff, TIFFTAG_ROWSPERSTRIP, &rows_per_block);
    if (ret != 1 || rows_per_block == (uint32_t)(-1)) rows_per_block = img->ysize;
    if (!(TIFFRGBAImageOK(tiff, emsg) && TIFFRGBAImageBegin(&rimg, tiff, 0, emsg))) return FT_BROKEN;
    rimg.req_orientation = ORIENTATION_TOPLEFT;
    rimg.col_offset = 0;
    if (INT32_MAX / 4 < rimg.width) { err = FT_MEMORY; goto end; }
    uint32_t row_byte_size = rimg.width * 4;
    if (INT32_MAX / row_byte_size < rows_per_block) { err = FT_MEMORY; goto end; }
    buf = malloc((size_t)rows_per_block * row_byte_size);
    if (!buf) { err = FT_MEMORY; goto end; }
    for (int y = 0; y < img->ysize; y += rows_per_block) {
        rimg.row_offset = y;
        uint32_t rows_to_read = rows_per_block < rimg.height - y ? rows_per_block : rimg.height - y;
        if (!TIFFRGBAImageGet(&rimg, (uint32_t *)buf, rimg.width, rows_to_read)) { err = FT_BROKEN; break; }
        int n = (int)rows_per_block < img->ysize - y ? (int)rows_per_block : img->ysize - y;
        for (int r = 0; r < n; r++)
            ft_unpackers[img->shuffle].fn(FT_ROW(img, y + r), buf + (size_t)r * row_byte_size, img->xsize);
    }
    free(buf);
end:
    TIFFRGBAImageEnd(&rimg);
    return err;
}

static int ft_decode_tile(ft_image *img, TIFF *tiff, int planes, int *unp) {
    uint32_t tw, tl;
    tmsize_t tile_bytes = TIFFTileSize(tiff), row_bytes;
    if (tile_bytes == 0) return FT_BROKEN;
    row_bytes = TIFFTileRowSize(tiff);
    if (row_bytes == 0 || row_bytes > tile_bytes) return FT_BROKEN;
    if (tile_bytes > INT32_MAX - 1) return FT_MEMORY;
    TIFFGetField(tiff, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tiff, TIFFTAG_TILELENGTH, &tl);
    if (tw > INT32_MAX || tl > INT32_MAX) return FT_MEMORY;
    // Pillow's check, in its own (32-bit unsigned) arithmetic.
    if ((uint64_t)tile_bytes > (uint64_t)(uint32_t)(((uint32_t)(tl * (uint32_t)img->bits / (uint32_t)planes) + 7) / 8 * tw)) return FT_BROKEN;
    uint8_t *buf = malloc(tile_bytes);
    if (!buf) return FT_MEMORY;
    for (int y = 0; y < img->ysize; y += tl) {
        for (int p = 0; p < planes; p++) {
            for (int x = 0; x < img->xsize; x += tw) {
                if (TIFFReadTile(tiff, buf, x, y, 0, p) == -1) { free(buf); return FT_BROKEN; }
                int cw = (int)tw < img->xsize - x ? (int)tw : img->xsize - x;
                int cl = (int)tl < img->ysize - y ? (int)tl : img->ysize - y;
                for (int ty = 0; ty < cl; ty++)
                    ft_unpackers[unp[p]].fn(FT_ROW(img, ty + y) + (long)x * img->pixelsize, buf + ty * row_bytes, cw);
            }
        }
    }
    free(buf);
    return FT_OK;
}

static int ft_decode_strip(ft_image *img, TIFF *tiff, int planes, int *unp) {
    uint32_t rps;
    int ret = TIFFGetField(tiff, TIFFTAG_ROWSPERSTRIP, &rps);
    if (ret != 1 || rps == (uint32_t)(-1)) rps = img->ysize;
    if (rps > INT32_MAX) return FT_MEMORY;
    tmsize_t strip_size = TIFFStripSize(tiff);
    if (strip_size > INT32_MAX - 1) return FT_MEMORY;
    tmsize_t unpacker_row = ((tmsize_t)img->xsize * img->bits / planes + 7) / 8;
    if (strip_size > unpacker_row * (tmsize_t)rps) return FT_BROKEN;
    tmsize_t row_bytes = TIFFScanlineSize(tiff);
    if (row_bytes == 0 || unpacker_row > row_bytes) return FT_BROKEN;
    uint8_t *buf = malloc(strip_size > 0 ? strip_size : 1);
    if (!buf) return FT_MEMORY;
    for (int y = 0; y < img->ysize; y += rps) {
        for (int p = 0; p < planes; p++) {
            if (TIFFReadEncodedStrip(tiff, TIFFComputeStrip(tiff, y, p), buf, strip_size) == -1) { free(buf); return FT_BROKEN; }
            int n = (int)rps < img->ysize - y ? (int)rps : img->ysize - y;
            for (int r = 0; r < n; r++)
                ft_unpackers[unp[p]].fn(FT_ROW(img, y + r), buf + r * row_bytes, img->xsize);
        }
    }
    free(buf);
    return FT_OK;
}

// ft_libtiff_decode is ImagingLibTiffDecode: FT_OK, or an error code with
// libtiff's first message in st->err.
static int ft_libtiff_decode(ft_state *st, uint64_t ifd, ft_image *img) {
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) return FT_MEMORY;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, ft_on_error, st);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, ft_on_warning, st);
    TIFF *tiff = TIFFClientOpenExt("tempfile.tif", "r", (thandle_t)st, ft_read, ft_write, ft_seek, ft_close,
                                   ft_size, ft_map, ft_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!tiff) return FT_OPEN;
    int err = FT_OK;
    if (ifd) {
        // Pillow passes the offset as a C int; a failed switch leaves the
        // (blank) image as it is, without an error.
        if (!TIFFSetSubDirectory(tiff, (uint32_t)ifd)) goto done;
    }
    uint32_t w = 0, h = 0;
    TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &h);
    if ((uint32_t)img->xsize != w || (uint32_t)img->ysize != h) { err = FT_BROKEN; goto done; }
    uint16_t photometric = 0, compression = 0, planar = 0;
    TIFFGetField(tiff, TIFFTAG_PHOTOMETRIC, &photometric);
    TIFFGetField(tiff, TIFFTAG_COMPRESSION, &compression);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_PLANARCONFIG, &planar);
    int as_rgba = photometric == PHOTOMETRIC_YCBCR;
    if (as_rgba && compression == COMPRESSION_JPEG && planar == PLANARCONFIG_CONTIG) {
        TIFFSetField(tiff, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
        as_rgba = 0;
    }
    if (as_rgba) {
        err = ft_decode_rgba(img, tiff);
    } else {
        int unp[4] = {0, 0, 0, 0};
        int planes = ft_pick(img, tiff, planar, unp);
        if (planes <= 0) { err = FT_BROKEN; goto done; }
        err = TIFFIsTiled(tiff) ? ft_decode_tile(img, tiff, planes, unp) : ft_decode_strip(img, tiff, planes, unp);
        if (err == FT_OK && planes > 3 && img->is_rgba_mode) {
            uint16_t extra = 0, *info = NULL;
            TIFFGetFieldDefaulted(tiff, TIFFTAG_EXTRASAMPLES, &extra, &info);
            if (extra >= 1 && (info[0] == EXTRASAMPLE_UNSPECIFIED || info[0] == EXTRASAMPLE_ASSOCALPHA)) {
                int b;
                int idx = ft_find("RGBA", "RGBa", &b);
                for (int y = 0; y < img->ysize; y++) ft_unpackers[idx].fn(FT_ROW(img, y), FT_ROW(img, y), img->xsize);
            }
        }
    }
done:
    TIFFClose(tiff);
    return err;
}

// --- LittleCMS, as ImageCms converts LAB to RGB ------------------------
// Pillow: createProfile("LAB") is cmsCreateLab2Profile(NULL), "sRGB"
// cmsCreate_sRGBProfile(); buildTransform(perceptual, flags 0) from its
// "LAB" type (LabV2, 3 channels + 1 extra byte) to TYPE_RGBA_8.
static int ft_lab_to_rgba(const uint8_t *in, uint8_t *out, uint32_t pixels) {
    cmsHPROFILE lab = cmsCreateLab2Profile(NULL), srgb = cmsCreate_sRGBProfile();
    int ok = 0;
    if (lab && srgb) {
        cmsUInt32Number labType = COLORSPACE_SH(PT_LabV2) | CHANNELS_SH(3) | BYTES_SH(1) | EXTRA_SH(1);
        cmsUInt32Number rgbaType = TYPE_RGBA_8;
        cmsHTRANSFORM t = cmsCreateTransform(lab, labType, srgb, rgbaType, 0, 0);
        if (t) {
            cmsDoTransform(t, in, out, pixels);
            cmsDeleteTransform(t);
            ok = 1;
        }
    }
    if (lab) cmsCloseProfile(lab);
    if (srgb) cmsCloseProfile(srgb);
    return ok;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

var quietLibtiff sync.Once

// unpacker is one of Pillow's (mode, rawmode) pixel unpackers.
type unpacker struct {
	idx  C.int
	bits int
}

// findUnpacker is ImagingFindUnpacker; ok is false where Pillow says
// "unknown raw mode for given image mode".
func findUnpacker(mode, rawmode string) (unpacker, bool) {
	cm, cr := C.CString(mode), C.CString(rawmode)
	defer C.free(unsafe.Pointer(cm))
	defer C.free(unsafe.Pointer(cr))
	var bits C.int
	idx := C.ft_find(cm, cr, &bits)
	return unpacker{idx: idx, bits: int(bits)}, idx >= 0
}

// unpackRows shuffles rows of raw bytes into image rows.
func (u unpacker) unpackRows(out []byte, outStride int, in []byte, inStride, rows, pixels int) {
	if rows <= 0 || pixels <= 0 {
		return
	}
	C.ft_unpack_rows(u.idx, (*C.uint8_t)(unsafe.Pointer(&out[0])), C.long(outStride),
		(*C.uint8_t)(unsafe.Pointer(&in[0])), C.long(inStride), C.int(rows), C.int(pixels))
}

// libtiffDecode decodes the image whose IFD is at ifd into im (Pillow's
// memory layout) as Pillow's "libtiff" decoder does.
func libtiffDecode(data []byte, ifd uint64, im *pilImage, u unpacker) error {
	quietLibtiff.Do(func() { C.ft_quiet_globals() })
	if len(data) == 0 {
		return errors.New("TIFF: empty file")
	}
	st := (*C.ft_state)(C.calloc(1, C.size_t(unsafe.Sizeof(C.ft_state{}))))
	defer C.free(unsafe.Pointer(st))
	// The file bytes are copied to C memory: libtiff keeps pointers into
	// them in its own structures for the whole call.
	cdata := C.CBytes(data)
	defer C.free(cdata)
	st.data = (*C.uint8_t)(cdata)
	st.size = C.toff_t(len(data))
	cim := C.malloc(C.size_t(len(im.pix)))
	if cim == nil {
		return errors.New("TIFF: out of memory")
	}
	defer C.free(cim)
	C.memset(cim, 0, C.size_t(len(im.pix)))
	img := C.ft_image{
		im: (*C.uint8_t)(cim), linesize: C.long(im.w * im.ps), pixelsize: C.int(im.ps), bands: C.int(im.bands),
		xsize: C.int(im.w), ysize: C.int(im.h), bits: C.int(u.bits), shuffle: u.idx,
	}
	if im.mode == "RGBA" {
		img.is_rgba_mode = 1
	}
	rc := C.ft_libtiff_decode(st, C.uint64_t(ifd), &img)
	copy(im.pix, unsafe.Slice((*byte)(cim), len(im.pix)))
	if rc == 0 {
		return nil
	}
	msg := C.GoString(&st.err[0])
	switch rc {
	case C.FT_MEMORY:
		return fmt.Errorf("TIFF: decoder error -9 (out of memory) %s", msg)
	default:
		if msg == "" {
			msg = "broken data stream"
		}
		return fmt.Errorf("TIFF: decoder error -2 (%s)", msg)
	}
}

// labToRGB converts Pillow "LAB" pixels (4 bytes each) to packed RGB as
// Image.convert("RGB") does, through LittleCMS.
func labToRGB(dst, lab []byte, n int) error {
	if n == 0 {
		return nil
	}
	in := C.CBytes(lab[:n*4])
	defer C.free(in)
	out := C.calloc(C.size_t(n), 4)
	defer C.free(out)
	if C.ft_lab_to_rgba((*C.uint8_t)(in), (*C.uint8_t)(out), C.uint32_t(n)) == 0 {
		return errors.New("TIFF: cannot build the LAB to sRGB transform")
	}
	rgba := unsafe.Slice((*byte)(out), n*4)
	for i := 0; i < n; i++ {
		copy(dst[i*3:i*3+3], rgba[i*4:i*4+3])
	}
	return nil
}

//! Unit and property tests of the value codec.

use super::*;
use proptest::prelude::*;

fn num(s: &str) -> Number {
    Number::parse(s).unwrap()
}

fn mp_roundtrip(v: &Value, ty: &Type) -> Value {
    let bytes = encode_msgpack(v, ty).unwrap();
    decode_msgpack(&bytes, ty).unwrap()
}

fn json_roundtrip(v: &Value, ty: &Type) -> Value {
    let bytes = encode_json(v, ty).unwrap();
    decode_json(&bytes, ty).unwrap()
}

/// Builds msgpack bytes with rmp's encoder.
fn mp(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut out);
    out
}

fn ext(code: i8, payload: &[u8]) -> Vec<u8> {
    mp(|o| {
        rmp::encode::write_ext_meta(o, payload.len() as u32, code).unwrap();
        o.extend_from_slice(payload);
    })
}

fn sample_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("count", Type::Number),
        ("enabled", Type::Bool),
        ("tags", Type::map(Type::String)),
        ("ports", Type::list(Type::Number)),
        ("zones", Type::set(Type::String)),
        ("pair", Type::tuple(vec![Type::String, Type::Bool])),
        ("extra", Type::Dynamic),
        (
            "rules",
            Type::list(Type::object([
                ("port", Type::Number),
                ("cidr", Type::String),
            ])),
        ),
    ])
}

fn sample_value() -> Value {
    Value::Object(BTreeMap::from([
        ("name".into(), Value::string("db")),
        (
            "count".into(),
            Value::Number(num("123456789012345678901234567890.5")),
        ),
        ("enabled".into(), Value::bool(true)),
        (
            "tags".into(),
            Value::Map(BTreeMap::from([
                ("env".into(), Value::string("prod")),
                ("owner".into(), Value::Unknown),
            ])),
        ),
        (
            "ports".into(),
            Value::List(vec![Value::int(80), Value::Null, Value::int(-1)]),
        ),
        (
            "zones".into(),
            Value::Set(vec![Value::string("a"), Value::string("b")]),
        ),
        (
            "pair".into(),
            Value::Tuple(vec![Value::string("x"), Value::bool(false)]),
        ),
        (
            "extra".into(),
            Value::Dynamic(
                Type::list(Type::Number),
                Box::new(Value::List(vec![Value::Number(num("0.1"))])),
            ),
        ),
        (
            "rules".into(),
            Value::List(vec![Value::Object(BTreeMap::from([
                ("port".into(), Value::int(443)),
                ("cidr".into(), Value::string("0.0.0.0/0")),
            ]))]),
        ),
    ]))
}

// ----- types -----------------------------------------------------------

#[test]
fn type_json_print_and_parse() {
    let cases = [
        (Type::Bool, r#""bool""#),
        (Type::Number, r#""number""#),
        (Type::String, r#""string""#),
        (Type::Dynamic, r#""dynamic""#),
        (Type::list(Type::String), r#"["list","string"]"#),
        (Type::set(Type::Number), r#"["set","number"]"#),
        (
            Type::map(Type::list(Type::Bool)),
            r#"["map",["list","bool"]]"#,
        ),
        (
            Type::object([("b", Type::String), ("a", Type::Number)]),
            r#"["object",{"a":"number","b":"string"}]"#,
        ),
        (
            Type::tuple(vec![Type::String, Type::Dynamic]),
            r#"["tuple",["string","dynamic"]]"#,
        ),
        (
            Type::object(Vec::<(String, Type)>::new()),
            r#"["object",{}]"#,
        ),
    ];
    for (ty, text) in cases {
        assert_eq!(String::from_utf8(ty.to_json_bytes()).unwrap(), text);
        assert_eq!(Type::from_json(text.as_bytes()).unwrap(), ty);
    }
}

#[test]
fn type_json_optional_attributes_are_accepted() {
    let ty = Type::from_json(br#"["object",{"a":"string","b":["list","number"]},["b"]]"#).unwrap();
    assert_eq!(
        ty,
        Type::object([("a", Type::String), ("b", Type::list(Type::Number))])
    );
    // Printing drops the optional-attribute list.
    assert_eq!(
        ty.to_json_bytes(),
        br#"["object",{"a":"string","b":["list","number"]}]"#
    );
}

#[test]
fn type_json_errors() {
    for bad in [
        r#""int""#,
        r#"[]"#,
        r#"["list"]"#,
        r#"["list","string","x"]"#,
        r#"["object",["a"]]"#,
        r#"["object",{"a":"string"},[],1]"#,
        r#"["tuple","string"]"#,
        r#"["frob","string"]"#,
        r#"[1,"string"]"#,
        r#"42"#,
        r#"{"type":"string"}"#,
    ] {
        let err = Type::from_json(bad.as_bytes()).unwrap_err();
        assert!(matches!(err, CodecError::InvalidType(_)), "{bad}: {err}");
    }
    assert!(matches!(
        Type::from_json(b"[\"list\""),
        Err(CodecError::Json(_))
    ));
    // Deep nesting is rejected, not a stack overflow.
    let deep = format!("{}\"string\"{}", "[\"list\",".repeat(300), "]".repeat(300));
    assert!(Type::from_json(deep.as_bytes()).is_err());
    let mut v = serde_json::Value::String("string".into());
    for _ in 0..200 {
        v = serde_json::json!(["list", v]);
    }
    assert!(matches!(
        Type::from_json_value(&v),
        Err(CodecError::InvalidType(_))
    ));
}

#[test]
fn type_display() {
    assert_eq!(
        sample_type().to_string(),
        "object({count=number, enabled=bool, extra=dynamic, name=string, \
         pair=tuple([string, bool]), ports=list(number), \
         rules=list(object({cidr=string, port=number})), tags=map(string), zones=set(string)})"
    );
}

// ----- numbers ---------------------------------------------------------

#[test]
fn number_canonicalisation() {
    let cases = [
        ("1", "1"),
        ("1.0", "1"),
        ("1e0", "1"),
        ("10e-1", "1"),
        ("+1", "1"),
        ("-0", "0"),
        ("-0.000", "0"),
        ("0e5", "0"),
        ("000", "0"),
        ("007", "7"),
        ("0.50", "0.5"),
        (".5", "0.5"),
        ("5.", "5"),
        ("1.5e3", "1500"),
        ("1.5E-3", "0.0015"),
        ("-12.340e1", "-123.4"),
        ("123e-5", "0.00123"),
        ("0.000123e+2", "0.0123"),
        ("100", "100"),
        ("-100.0100", "-100.01"),
        ("18446744073709551616", "18446744073709551616"),
    ];
    for (input, canonical) in cases {
        assert_eq!(num(input).as_str(), canonical, "input {input}");
        assert_eq!(num(canonical).as_str(), canonical);
    }
    assert_eq!(num("1"), num("1.000"));
    assert_eq!(num("1e10000").as_str().len(), 10_001);
    assert_eq!(num("1e-10000").as_str().len(), 10_002);
}

#[test]
fn number_parse_errors() {
    for bad in [
        "",
        "-",
        "+",
        ".",
        "-.",
        "e5",
        "1e",
        "1e+",
        "abc",
        "1.2.3",
        " 1",
        "1 ",
        "NaN",
        "inf",
        "-Infinity",
        "0x10",
        "1_000",
        "1e10001",
        "1e-10001",
        "1e99999999999999999999999999",
        "١",
    ] {
        assert!(
            matches!(Number::parse(bad), Err(CodecError::InvalidNumber(_))),
            "{bad:?} should be rejected"
        );
    }
    let msg = Number::parse("12abc").unwrap_err().to_string();
    assert_eq!(msg, r#"invalid number: "12abc" is not a decimal number"#);
}

#[test]
fn number_conversions() {
    assert_eq!(Number::from_i64(i64::MIN).as_i64(), Some(i64::MIN));
    assert_eq!(Number::from_u64(u64::MAX).as_u64(), Some(u64::MAX));
    assert_eq!(Number::from_u64(u64::MAX).as_i64(), None);
    assert_eq!(num("1.5").as_i64(), None);
    assert_eq!(num("1.5").as_f64(), Some(1.5));
    assert_eq!(num("1e400").as_f64(), None);
    assert_eq!(Number::from_f64(0.1).unwrap().as_str(), "0.1");
    assert_eq!(Number::from_f64(-0.0).unwrap().as_str(), "0");
    assert_eq!(Number::from_f64(1e300).unwrap().as_f64(), Some(1e300));
    assert_eq!(Number::from_f64(5e-324).unwrap().as_f64(), Some(5e-324));
    assert_eq!(Number::from_f64(f64::NAN), None);
    assert_eq!(Number::from_f64(f64::INFINITY), None);
    assert_eq!(Number::from_f32(0.1).unwrap().as_str(), "0.1");
    assert_eq!("2.50".parse::<Number>().unwrap().to_string(), "2.5");
    assert!(Number::from_i64(3).is_integer());
}

#[test]
fn number_ordering() {
    let sorted = [
        "-100", "-2.5", "-2", "-0.01", "0", "0.001", "0.5", "1", "1.25", "9", "10",
    ];
    let nums: Vec<Number> = sorted.iter().map(|s| num(s)).collect();
    for (i, a) in nums.iter().enumerate() {
        for (j, b) in nums.iter().enumerate() {
            assert_eq!(a.cmp(b), i.cmp(&j), "{a} vs {b}");
        }
    }
}

// ----- msgpack ---------------------------------------------------------

#[test]
fn msgpack_primitive_encodings() {
    let cases: Vec<(Value, Type, Vec<u8>)> = vec![
        (Value::Null, Type::String, vec![0xc0]),
        (Value::Unknown, Type::Number, vec![0xd4, 0x00, 0x00]),
        (Value::bool(true), Type::Bool, vec![0xc3]),
        (Value::int(1), Type::Number, vec![0x01]),
        (Value::int(-1), Type::Number, vec![0xff]),
        (Value::string("a"), Type::String, vec![0xa1, b'a']),
        (
            Value::Number(Number::from_u64(u64::MAX)),
            Type::Number,
            mp(|o| {
                rmp::encode::write_u64(o, u64::MAX).unwrap();
            }),
        ),
        (
            Value::Number(num("1.5")),
            Type::Number,
            mp(|o| rmp::encode::write_f64(o, 1.5).unwrap()),
        ),
        (
            Value::Number(num("0.1")),
            Type::Number,
            mp(|o| rmp::encode::write_f64(o, 0.1).unwrap()),
        ),
    ];
    for (v, ty, bytes) in cases {
        assert_eq!(encode_msgpack(&v, &ty).unwrap(), bytes, "{v:?}");
        assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), v);
    }
}

#[test]
fn msgpack_accepts_every_integer_and_float_width() {
    let encodings = [
        mp(|o| rmp::encode::write_u8(o, 200).unwrap()),
        mp(|o| rmp::encode::write_u16(o, 200).unwrap()),
        mp(|o| rmp::encode::write_u32(o, 200).unwrap()),
        mp(|o| rmp::encode::write_u64(o, 200).unwrap()),
        mp(|o| rmp::encode::write_i16(o, 200).unwrap()),
        mp(|o| rmp::encode::write_i32(o, 200).unwrap()),
        mp(|o| rmp::encode::write_i64(o, 200).unwrap()),
        mp(|o| rmp::encode::write_f32(o, 200.0).unwrap()),
        mp(|o| rmp::encode::write_f64(o, 200.0).unwrap()),
        mp(|o| rmp::encode::write_str(o, "2e2").unwrap()),
    ];
    for bytes in encodings {
        assert_eq!(
            decode_msgpack(&bytes, &Type::Number).unwrap(),
            Value::int(200)
        );
    }
    let neg = mp(|o| rmp::encode::write_i8(o, -100).unwrap());
    assert_eq!(
        decode_msgpack(&neg, &Type::Number).unwrap(),
        Value::int(-100)
    );
    let nan = mp(|o| rmp::encode::write_f64(o, f64::NAN).unwrap());
    assert!(matches!(
        decode_msgpack(&nan, &Type::Number),
        Err(CodecError::InvalidNumberAt { .. })
    ));
    let bad = mp(|o| rmp::encode::write_str(o, "12abc").unwrap());
    assert!(matches!(
        decode_msgpack(&bad, &Type::Number),
        Err(CodecError::InvalidNumberAt { .. })
    ));
}

#[test]
fn big_numbers_roundtrip_exactly() {
    for text in [
        "123456789012345678901234567890.5",
        "18446744073709551616", // 2^64 (exactly representable: written as f64)
        "18446744073709551617", // 2^64 + 1
        "-9223372036854775809", // i64::MIN - 1
        "0.1000000000000000000000000000001",
        "1e400",
        "-1e-400",
    ] {
        let v = Value::Number(num(text));
        assert_eq!(mp_roundtrip(&v, &Type::Number), v, "{text}");
        assert_eq!(json_roundtrip(&v, &Type::Number), v, "{text}");
    }
    let big = num("123456789012345678901234567890.5");
    let bytes = encode_msgpack(&Value::Number(big.clone()), &Type::Number).unwrap();
    assert_eq!(
        bytes,
        mp(|o| rmp::encode::write_str(o, "123456789012345678901234567890.5").unwrap())
    );
    let json = encode_json(&Value::Number(big), &Type::Number).unwrap();
    assert_eq!(json, b"123456789012345678901234567890.5");
    let two64_plus_1 = encode_msgpack(&Value::Number(num("18446744073709551617")), &Type::Number);
    assert_eq!(
        two64_plus_1.unwrap(),
        mp(|o| rmp::encode::write_str(o, "18446744073709551617").unwrap())
    );
    // JSON input keeps every digit.
    let v = decode_json(
        b"[18446744073709551617, 1.000000000000000000001]",
        &Type::list(Type::Number),
    )
    .unwrap();
    assert_eq!(
        v,
        Value::List(vec![
            Value::Number(num("18446744073709551617")),
            Value::Number(num("1.000000000000000000001")),
        ])
    );
}

#[test]
fn unknown_extension_variants_decode_as_unknown() {
    let encodings = [
        vec![0xd4, 0x00, 0x00],       // fixext1, code 0 (what Terraform writes)
        vec![0xc7, 0x00, 0x00],       // ext8, empty payload
        vec![0xd5, 0x00, 0x01, 0x02], // fixext2
        ext(5, b"future"),            // unknown future code
    ];
    for ty in [
        Type::String,
        Type::Number,
        Type::list(Type::Bool),
        Type::Dynamic,
        sample_type(),
    ] {
        for bytes in &encodings {
            assert_eq!(decode_msgpack(bytes, &ty).unwrap(), Value::Unknown);
        }
    }
}

#[test]
fn refined_unknowns_decode_as_unknown() {
    // Not null + string prefix "ami-".
    let string_refinement = mp(|o| {
        rmp::encode::write_map_len(o, 2).unwrap();
        rmp::encode::write_uint(o, 1).unwrap();
        rmp::encode::write_bool(o, false).unwrap();
        rmp::encode::write_uint(o, 2).unwrap();
        rmp::encode::write_str(o, "ami-").unwrap();
    });
    // Number bounds: [1, inclusive] .. ["1e400", exclusive].
    let number_refinement = mp(|o| {
        rmp::encode::write_map_len(o, 3).unwrap();
        rmp::encode::write_uint(o, 1).unwrap();
        rmp::encode::write_bool(o, true).unwrap();
        rmp::encode::write_uint(o, 3).unwrap();
        rmp::encode::write_array_len(o, 2).unwrap();
        rmp::encode::write_uint(o, 1).unwrap();
        rmp::encode::write_bool(o, true).unwrap();
        rmp::encode::write_uint(o, 4).unwrap();
        rmp::encode::write_array_len(o, 2).unwrap();
        rmp::encode::write_str(o, "1e400").unwrap();
        rmp::encode::write_bool(o, false).unwrap();
    });
    // Collection length bounds 1..=10 plus a key from the future.
    let length_refinement = mp(|o| {
        rmp::encode::write_map_len(o, 3).unwrap();
        rmp::encode::write_uint(o, 5).unwrap();
        rmp::encode::write_uint(o, 1).unwrap();
        rmp::encode::write_uint(o, 6).unwrap();
        rmp::encode::write_uint(o, 10).unwrap();
        rmp::encode::write_uint(o, 99).unwrap();
        rmp::encode::write_str(o, "?").unwrap();
    });
    assert_eq!(
        decode_msgpack(&ext(12, &string_refinement), &Type::String).unwrap(),
        Value::Unknown
    );
    assert_eq!(
        decode_msgpack(&ext(12, &number_refinement), &Type::Number).unwrap(),
        Value::Unknown
    );
    assert_eq!(
        decode_msgpack(&ext(12, &length_refinement), &Type::list(Type::String)).unwrap(),
        Value::Unknown
    );
    // Nested inside an object, followed by further attributes.
    let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
    let bytes = mp(|o| {
        rmp::encode::write_map_len(o, 2).unwrap();
        rmp::encode::write_str(o, "a").unwrap();
        o.extend_from_slice(&ext(12, &string_refinement));
        rmp::encode::write_str(o, "b").unwrap();
        rmp::encode::write_uint(o, 7).unwrap();
    });
    let v = decode_msgpack(&bytes, &ty).unwrap();
    assert_eq!(v.get("a"), Some(&Value::Unknown));
    assert_eq!(v.get("b"), Some(&Value::int(7)));
    assert!(!v.is_fully_known());
}

#[test]
fn nested_value_roundtrips() {
    let (ty, v) = (sample_type(), sample_value());
    assert_eq!(mp_roundtrip(&v, &ty), v);
    let mut known = v.clone();
    known
        .get_mut("tags")
        .and_then(|t| match t {
            Value::Map(m) => m.get_mut("owner"),
            _ => None,
        })
        .map(|owner| *owner = Value::string("me"))
        .unwrap();
    assert!(known.is_fully_known());
    assert_eq!(json_roundtrip(&known, &ty), known);
}

#[test]
fn dynamic_values_in_msgpack() {
    let concrete = Type::list(Type::String);
    let v = Value::Dynamic(
        concrete.clone(),
        Box::new(Value::List(vec![Value::string("x")])),
    );
    let bytes = encode_msgpack(&v, &Type::Dynamic).unwrap();
    let type_json = br#"["list","string"]"#;
    let expected = mp(|o| {
        rmp::encode::write_array_len(o, 2).unwrap();
        rmp::encode::write_bin(o, type_json).unwrap();
        rmp::encode::write_array_len(o, 1).unwrap();
        rmp::encode::write_str(o, "x").unwrap();
    });
    assert_eq!(bytes, expected);
    assert_eq!(decode_msgpack(&bytes, &Type::Dynamic).unwrap(), v);
    // The type may also arrive as a msgpack string.
    let as_str = mp(|o| {
        rmp::encode::write_array_len(o, 2).unwrap();
        rmp::encode::write_str(o, r#"["list","string"]"#).unwrap();
        rmp::encode::write_array_len(o, 1).unwrap();
        rmp::encode::write_str(o, "x").unwrap();
    });
    assert_eq!(decode_msgpack(&as_str, &Type::Dynamic).unwrap(), v);
    // Null and unknown may appear directly; a typed null is kept typed.
    assert_eq!(
        decode_msgpack(&[0xc0], &Type::Dynamic).unwrap(),
        Value::Null
    );
    assert_eq!(
        decode_msgpack(&[0xd4, 0, 0], &Type::Dynamic).unwrap(),
        Value::Unknown
    );
    let typed_null = Value::Dynamic(Type::Number, Box::new(Value::Null));
    assert_eq!(mp_roundtrip(&typed_null, &Type::Dynamic), typed_null);
    assert!(typed_null.is_null());
    // Errors: wrong shape and invalid embedded type.
    let not_pair = mp(|o| rmp::encode::write_str(o, "x").unwrap());
    assert!(matches!(
        decode_msgpack(&not_pair, &Type::Dynamic),
        Err(CodecError::TypeMismatch { .. })
    ));
    let bad_type = mp(|o| {
        rmp::encode::write_array_len(o, 2).unwrap();
        rmp::encode::write_bin(o, b"\"int\"").unwrap();
        rmp::encode::write_nil(o).unwrap();
    });
    let err = decode_msgpack(&bad_type, &Type::Dynamic).unwrap_err();
    assert!(
        matches!(err, CodecError::InvalidDynamicType { .. }),
        "{err}"
    );
    // A non-dynamic value cannot be encoded as dynamic.
    assert!(matches!(
        encode_msgpack(&Value::string("x"), &Type::Dynamic),
        Err(CodecError::TypeMismatch { .. })
    ));
}

#[test]
fn dynamic_values_in_json() {
    let v = Value::Dynamic(
        Type::object([("a", Type::Number)]),
        Box::new(Value::Object(BTreeMap::from([("a".into(), Value::int(1))]))),
    );
    let bytes = encode_json(&v, &Type::Dynamic).unwrap();
    assert_eq!(
        bytes,
        br#"{"value":{"a":1},"type":["object",{"a":"number"}]}"#
    );
    assert_eq!(decode_json(&bytes, &Type::Dynamic).unwrap(), v);
    assert_eq!(decode_json(b"null", &Type::Dynamic).unwrap(), Value::Null);
    assert!(matches!(
        decode_json(br#"{"value":1}"#, &Type::Dynamic),
        Err(CodecError::InvalidDynamicType { .. })
    ));
    assert!(matches!(
        decode_json(br#"{"value":1,"type":"number","x":2}"#, &Type::Dynamic),
        Err(CodecError::UnexpectedAttribute { .. })
    ));
    assert!(matches!(
        decode_json(b"1", &Type::Dynamic),
        Err(CodecError::TypeMismatch { .. })
    ));
}

#[test]
fn objects_with_missing_attributes_decode_as_null() {
    let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
    let bytes = mp(|o| {
        rmp::encode::write_map_len(o, 1).unwrap();
        rmp::encode::write_str(o, "a").unwrap();
        rmp::encode::write_str(o, "x").unwrap();
    });
    let expected = Value::Object(BTreeMap::from([
        ("a".into(), Value::string("x")),
        ("b".into(), Value::Null),
    ]));
    assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), expected);
    // JSON: missing attributes are null, unknown extras (old schema) are dropped.
    assert_eq!(
        decode_json(br#"{"a":"x","old":[1,2]}"#, &ty).unwrap(),
        expected
    );
    // Encoding fills absent attributes with null.
    let partial = Value::Object(BTreeMap::from([("a".into(), Value::string("x"))]));
    assert_eq!(mp_roundtrip(&partial, &ty), expected);
    assert_eq!(json_roundtrip(&partial, &ty), expected);
}

#[test]
fn unexpected_attribute_reports_path() {
    let ty = Type::object([("outer", Type::list(Type::object([("known", Type::String)])))]);
    let bytes = mp(|o| {
        rmp::encode::write_map_len(o, 1).unwrap();
        rmp::encode::write_str(o, "outer").unwrap();
        rmp::encode::write_array_len(o, 2).unwrap();
        rmp::encode::write_nil(o).unwrap();
        rmp::encode::write_map_len(o, 1).unwrap();
        rmp::encode::write_str(o, "surprise").unwrap();
        rmp::encode::write_nil(o).unwrap();
    });
    let err = decode_msgpack(&bytes, &ty).unwrap_err();
    match &err {
        CodecError::UnexpectedAttribute { path, name } => {
            assert_eq!(path, ".outer[1]");
            assert_eq!(name, "surprise");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        r#"unexpected attribute "surprise" at .outer[1]: the object type does not declare it"#
    );
    // Encoding an object value with an undeclared attribute fails too.
    let v = Value::Object(BTreeMap::from([("nope".into(), Value::Null)]));
    assert!(matches!(
        encode_msgpack(&v, &Type::object([("a", Type::String)])),
        Err(CodecError::UnexpectedAttribute { .. })
    ));
}

#[test]
fn type_mismatch_reports_path() {
    let ty = Type::object([("tags", Type::map(Type::String))]);
    let bytes = mp(|o| {
        rmp::encode::write_map_len(o, 1).unwrap();
        rmp::encode::write_str(o, "tags").unwrap();
        rmp::encode::write_map_len(o, 1).unwrap();
        rmp::encode::write_str(o, "x").unwrap();
        rmp::encode::write_uint(o, 5).unwrap();
    });
    let err = decode_msgpack(&bytes, &ty).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"type mismatch at .tags["x"]: expected string, got msgpack integer"#
    );
    let err = decode_json(br#"{"tags":{"x":[]}}"#, &ty).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"type mismatch at .tags["x"]: expected string, got JSON array"#
    );
    let err = decode_msgpack(&[0xc3], &Type::list(Type::String)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "type mismatch at the top-level value: expected list(string), got msgpack boolean"
    );
    let list = Type::list(Type::Number);
    let err = encode_msgpack(
        &Value::List(vec![
            Value::int(0),
            Value::int(1),
            Value::int(2),
            Value::bool(true),
        ]),
        &list,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "type mismatch at [3]: expected number, got a bool value"
    );
}

#[test]
fn encoding_is_checked_against_the_type() {
    let items = vec![Value::string("a"), Value::string("b")];
    let set = Type::set(Type::String);
    // List, set and tuple values are all arrays.
    let from_list = encode_msgpack(&Value::List(items.clone()), &set).unwrap();
    let from_set = encode_msgpack(&Value::Set(items.clone()), &set).unwrap();
    assert_eq!(from_list, from_set);
    assert_eq!(
        decode_msgpack(&from_list, &set).unwrap(),
        Value::Set(items.clone())
    );
    let tuple = Type::tuple(vec![Type::String]);
    assert!(matches!(
        encode_msgpack(&Value::List(items.clone()), &tuple),
        Err(CodecError::LengthMismatch {
            expected: 1,
            got: 2,
            ..
        })
    ));
    assert!(matches!(
        encode_json(&Value::List(items), &tuple),
        Err(CodecError::LengthMismatch {
            expected: 1,
            got: 2,
            ..
        })
    ));
    assert!(matches!(
        encode_msgpack(&Value::string("1"), &Type::Number),
        Err(CodecError::TypeMismatch { .. })
    ));
    assert!(matches!(
        encode_json(&Value::Object(BTreeMap::new()), &Type::list(Type::String)),
        Err(CodecError::TypeMismatch { .. })
    ));
    // Map values encode under object types and vice versa.
    let m = Value::Map(BTreeMap::from([("a".into(), Value::int(1))]));
    let obj_ty = Type::object([("a", Type::Number)]);
    assert_eq!(
        mp_roundtrip(&m, &obj_ty),
        Value::Object(BTreeMap::from([("a".into(), Value::int(1))]))
    );
}

#[test]
fn unknown_cannot_be_encoded_as_json() {
    let ty = Type::object([("a", Type::list(Type::String))]);
    let v = Value::Object(BTreeMap::from([(
        "a".into(),
        Value::List(vec![Value::string("x"), Value::Unknown]),
    )]));
    let err = encode_json(&v, &ty).unwrap_err();
    assert!(matches!(&err, CodecError::UnknownInJson { path } if path == ".a[1]"));
}

#[test]
fn json_primitive_conversions_follow_cty() {
    assert_eq!(
        decode_json(br#""12.50""#, &Type::Number).unwrap(),
        Value::Number(num("12.5"))
    );
    assert_eq!(
        decode_json(b"12", &Type::String).unwrap(),
        Value::string("12")
    );
    assert_eq!(
        decode_json(b"true", &Type::String).unwrap(),
        Value::string("true")
    );
    assert_eq!(
        decode_json(br#""false""#, &Type::Bool).unwrap(),
        Value::bool(false)
    );
    assert!(decode_json(br#""yes""#, &Type::Bool).is_err());
    assert!(matches!(
        decode_json(br#""x1""#, &Type::Number),
        Err(CodecError::InvalidNumberAt { .. })
    ));
}

#[test]
fn empty_and_trailing_input() {
    assert!(matches!(
        decode_msgpack(&[], &Type::String),
        Err(CodecError::EmptyInput { .. })
    ));
    assert!(matches!(
        decode_json(b"  ", &Type::String),
        Err(CodecError::EmptyInput { .. })
    ));
    assert!(matches!(
        decode_msgpack(&[0xc0, 0xc0], &Type::String),
        Err(CodecError::TrailingBytes { count: 1 })
    ));
    assert!(matches!(
        decode_json(b"1 2", &Type::Number),
        Err(CodecError::Json(_))
    ));
    assert!(matches!(
        decode_msgpack(&[0xc1], &Type::String),
        Err(CodecError::TypeMismatch { .. })
    ));
}

#[test]
fn invalid_utf8_and_duplicate_keys() {
    assert!(matches!(
        decode_msgpack(&[0xa2, 0xff, 0xfe], &Type::String),
        Err(CodecError::InvalidUtf8 { .. })
    ));
    let dup = mp(|o| {
        rmp::encode::write_map_len(o, 2).unwrap();
        rmp::encode::write_str(o, "k").unwrap();
        rmp::encode::write_nil(o).unwrap();
        rmp::encode::write_str(o, "k").unwrap();
        rmp::encode::write_nil(o).unwrap();
    });
    assert!(matches!(
        decode_msgpack(&dup, &Type::map(Type::String)),
        Err(CodecError::DuplicateKey { .. })
    ));
    assert!(matches!(
        decode_msgpack(&dup, &Type::object([("k", Type::String)])),
        Err(CodecError::DuplicateKey { .. })
    ));
}

#[test]
fn huge_claimed_lengths_fail_fast() {
    let inputs: [&[u8]; 8] = [
        &[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0],       // array32
        &[0xdc, 0xff, 0xff, 0xc0],                   // array16
        &[0xdf, 0xff, 0xff, 0xff, 0xff, 0xa0, 0xc0], // map32
        &[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'],       // str32
        &[0xc6, 0xff, 0xff, 0xff, 0xff, b'a'],       // bin32
        &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00], // ext32
        &[0x92, 0xc6, 0xff, 0xff, 0xff, 0xff],       // dynamic type as huge bin
        &[0x9f, 0xc0],                               // fixarray(15), 1 byte left
    ];
    let types = [
        Type::list(Type::String),
        Type::map(Type::String),
        Type::object([("a", Type::String)]),
        Type::String,
        Type::Number,
        Type::Dynamic,
        Type::tuple(vec![Type::String; 15]),
    ];
    for input in inputs {
        for ty in &types {
            assert!(decode_msgpack(input, ty).is_err(), "{input:x?} as {ty}");
        }
    }
    assert!(matches!(
        decode_msgpack(
            &[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0],
            &Type::list(Type::String)
        ),
        Err(CodecError::Truncated { .. })
    ));
}

#[test]
fn nesting_depth_is_limited() {
    // A type nested deeper than the limit, with matching input.
    let mut ty = Type::String;
    for _ in 0..200 {
        ty = Type::list(ty);
    }
    let mut bytes = vec![0x91; 200];
    bytes.push(0xa0);
    assert!(matches!(
        decode_msgpack(&bytes, &ty),
        Err(CodecError::TooDeep { .. })
    ));
    // Nesting built out of dynamic values, each claiming type "dynamic".
    let mut bytes = Vec::new();
    for _ in 0..1000 {
        bytes.push(0x92);
        rmp::encode::write_bin(&mut bytes, b"\"dynamic\"").unwrap();
    }
    bytes.push(0xc0);
    assert!(matches!(
        decode_msgpack(&bytes, &Type::Dynamic),
        Err(CodecError::TooDeep { .. })
    ));
    // Encoding a deep value fails cleanly too.
    let mut v = Value::string("x");
    for _ in 0..200 {
        v = Value::List(vec![v]);
    }
    assert!(matches!(
        encode_msgpack(&v, &ty),
        Err(CodecError::TooDeep { .. })
    ));
    assert!(matches!(
        encode_json(&v, &ty),
        Err(CodecError::TooDeep { .. })
    ));
    // Within the limit is fine.
    let mut ok_ty = Type::String;
    let mut ok_v = Value::string("x");
    for _ in 0..100 {
        ok_ty = Type::list(ok_ty);
        ok_v = Value::List(vec![ok_v]);
    }
    assert_eq!(mp_roundtrip(&ok_v, &ok_ty), ok_v);
    assert_eq!(json_roundtrip(&ok_v, &ok_ty), ok_v);
    // JSON nesting is bounded by serde_json's own recursion limit.
    let deep_json = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    assert!(decode_json(deep_json.as_bytes(), &Type::Dynamic).is_err());
}

#[test]
fn expansion_is_bounded() {
    // Many empty maps against a dynamic object type with many attributes.
    let attrs: Vec<(String, Type)> = (0..5000).map(|i| (format!("a{i}"), Type::Bool)).collect();
    let wide = Type::list(Type::object(attrs));
    let msgpack = mp(|o| {
        rmp::encode::write_array_len(o, 2).unwrap();
        rmp::encode::write_bin(o, &wide.to_json_bytes()).unwrap();
        rmp::encode::write_array_len(o, 100).unwrap();
        o.extend_from_slice(&[0x80; 100]);
    });
    assert!(matches!(
        decode_msgpack(&msgpack, &Type::Dynamic),
        Err(CodecError::ExpansionLimit { .. })
    ));
    let json = format!(
        r#"{{"type":{},"value":[{}{{}}]}}"#,
        wide.to_json(),
        "{},".repeat(99)
    );
    assert!(matches!(
        decode_json(json.as_bytes(), &Type::Dynamic),
        Err(CodecError::ExpansionLimit { .. })
    ));
    // A few such objects are fine.
    let few = mp(|o| {
        rmp::encode::write_array_len(o, 2).unwrap();
        rmp::encode::write_bin(o, &wide.to_json_bytes()).unwrap();
        rmp::encode::write_array_len(o, 2).unwrap();
        o.extend_from_slice(&[0x80; 2]);
    });
    assert!(decode_msgpack(&few, &Type::Dynamic).is_ok());

    // Numbers whose exponents expand into ~10k digits each.
    let list = Type::list(Type::Number);
    let huge = mp(|o| {
        rmp::encode::write_array_len(o, 100).unwrap();
        for _ in 0..100 {
            rmp::encode::write_str(o, "1e9999").unwrap();
        }
    });
    let err = decode_msgpack(&huge, &list).unwrap_err();
    assert!(matches!(err, CodecError::ExpansionLimit { .. }), "{err}");
    let json = format!("[{}1e9999]", "1e9999,".repeat(99));
    assert!(matches!(
        decode_json(json.as_bytes(), &list),
        Err(CodecError::ExpansionLimit { .. })
    ));
    let one = mp(|o| rmp::encode::write_str(o, "1e9999").unwrap());
    assert!(decode_msgpack(&one, &Type::Number).is_ok());
}

#[test]
fn value_helpers() {
    let ty = Type::object([("a", Type::String), ("n", Type::Number)]);
    let mut v = Value::null_object(&ty);
    assert_eq!(v.get("a"), Some(&Value::Null));
    assert_eq!(v.get("zzz"), None);
    assert_eq!(Value::null_object(&Type::String), Value::Null);
    v.set_attr("a", Value::string("x"));
    v.set_attr("n", Value::int(42));
    assert_eq!(v.get("a").and_then(Value::as_str), Some("x"));
    assert_eq!(v.get("n").and_then(Value::as_i64), Some(42));
    assert_eq!(
        v.get("n").and_then(Value::as_number),
        Some(&Number::from_i64(42))
    );
    if let Some(n) = v.get_mut("n") {
        *n = Value::Unknown;
    }
    assert!(v.get("n").is_some_and(Value::is_unknown));
    assert!(!v.is_fully_known());
    assert_eq!(v.as_map().map(BTreeMap::len), Some(2));
    let mut s = Value::string("x");
    s.set_attr("a", Value::Null); // no-op on non-objects
    assert_eq!(s, Value::string("x"));
    assert_eq!(s.get("a"), None);
    assert_eq!(Value::bool(true).as_bool(), Some(true));
    assert_eq!(
        Value::Tuple(vec![Value::Null]).as_list().map(<[_]>::len),
        Some(1)
    );
    let d = Value::Dynamic(Type::String, Box::new(Value::string("y")));
    assert_eq!(d.as_str(), Some("y"));
    assert!(Value::Null.is_null() && !Value::Unknown.is_null());
}

#[test]
fn truncated_prefixes_of_sample_fail() {
    let bytes = encode_msgpack(&sample_value(), &sample_type()).unwrap();
    for len in 0..bytes.len() {
        assert!(
            decode_msgpack(&bytes[..len], &sample_type()).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
}

// ----- property tests --------------------------------------------------

fn arb_primitive_type() -> impl Strategy<Value = Type> {
    prop_oneof![Just(Type::Bool), Just(Type::Number), Just(Type::String)]
}

fn arb_type() -> BoxedStrategy<Type> {
    let leaf = prop_oneof![arb_primitive_type(), Just(Type::Dynamic)];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map("[a-z_]{1,6}", inner.clone(), 0..4).prop_map(Type::Object),
            prop::collection::vec(inner, 0..4).prop_map(Type::Tuple),
        ]
    })
    .boxed()
}

fn arb_number() -> BoxedStrategy<Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from_i64),
        any::<u64>().prop_map(Number::from_u64),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        "-?[0-9]{1,30}(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?"
            .prop_filter_map("valid", |s| Number::parse(&s).ok()),
    ]
    .boxed()
}

/// A value conforming to `ty`, with null (and unknown, if allowed) at any
/// level. `budget` limits how many dynamic levels may nest.
fn arb_value(ty: &Type, unknown: bool, budget: u32) -> BoxedStrategy<Value> {
    use prop::collection::{btree_map, vec};
    let known: BoxedStrategy<Value> = match ty {
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => arb_number().prop_map(Value::Number).boxed(),
        Type::String => ".{0,12}".prop_map(Value::String).boxed(),
        Type::List(e) => vec(arb_value(e, unknown, budget), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(e) => vec(arb_value(e, unknown, budget), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(e) => btree_map(".{0,6}", arb_value(e, unknown, budget), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Object(attrs) => {
            let names: Vec<String> = attrs.keys().cloned().collect();
            let values: Vec<BoxedStrategy<Value>> = attrs
                .values()
                .map(|t| arb_value(t, unknown, budget))
                .collect();
            values
                .prop_map(move |vals| Value::Object(names.iter().cloned().zip(vals).collect()))
                .boxed()
        }
        Type::Tuple(elems) => elems
            .iter()
            .map(|t| arb_value(t, unknown, budget))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Dynamic => {
            let concrete = if budget == 0 {
                arb_primitive_type().boxed()
            } else {
                arb_type()
            };
            concrete
                .prop_flat_map(move |t| {
                    let inner = arb_value(&t, unknown, budget.saturating_sub(1));
                    inner.prop_map(move |v| Value::Dynamic(t.clone(), Box::new(v)))
                })
                .boxed()
        }
    };
    if unknown {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
    } else {
        prop_oneof![1 => Just(Value::Null), 7 => known].boxed()
    }
}

fn arb_typed_value(unknown: bool) -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(move |ty| {
        let v = arb_value(&ty, unknown, 1);
        (Just(ty), v)
    })
}

fn fuzz_types() -> Vec<Type> {
    vec![
        Type::Bool,
        Type::Number,
        Type::String,
        Type::Dynamic,
        Type::list(Type::Dynamic),
        Type::set(Type::Number),
        Type::tuple(vec![Type::String, Type::Number]),
        sample_type(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn msgpack_roundtrip((ty, v) in arb_typed_value(true)) {
        let bytes = encode_msgpack(&v, &ty).unwrap();
        prop_assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), v);
    }

    #[test]
    fn json_roundtrip_prop((ty, v) in arb_typed_value(false)) {
        let bytes = encode_json(&v, &ty).unwrap();
        prop_assert_eq!(decode_json(&bytes, &ty).unwrap(), v);
    }

    #[test]
    fn msgpack_truncation_always_fails((ty, v) in arb_typed_value(true)) {
        let bytes = encode_msgpack(&v, &ty).unwrap();
        for len in 0..bytes.len() {
            prop_assert!(decode_msgpack(&bytes[..len], &ty).is_err());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        for ty in fuzz_types() {
            let _ = decode_msgpack(&bytes, &ty);
            let _ = decode_json(&bytes, &ty);
        }
    }

    #[test]
    fn arbitrary_bytes_against_random_types_never_panic(
        ty in arb_type(),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = decode_msgpack(&bytes, &ty);
        let _ = decode_json(&bytes, &ty);
    }

    #[test]
    fn mutated_encodings_never_panic(
        (ty, v) in arb_typed_value(true),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode_msgpack(&v, &ty).unwrap();
        for (pos, byte) in edits {
            if bytes.is_empty() {
                bytes.push(byte);
            } else {
                let i = pos % bytes.len();
                bytes[i] = byte;
            }
        }
        let _ = decode_msgpack(&bytes, &ty);
    }

    #[test]
    fn number_text_is_canonical(n in arb_number()) {
        prop_assert_eq!(Number::parse(n.as_str()).unwrap(), n.clone());
        let shifted = if n.as_str().contains('.') {
            format!("{}000", n.as_str())
        } else {
            format!("{}0e-1", n.as_str())
        };
        prop_assert_eq!(Number::parse(&shifted).unwrap(), n);
    }

    #[test]
    fn number_order_matches_primitives(a in any::<i64>(), b in any::<i64>(), x in any::<f64>(), y in any::<f64>()) {
        prop_assert_eq!(Number::from_i64(a).cmp(&Number::from_i64(b)), a.cmp(&b));
        if let (Some(nx), Some(ny)) = (Number::from_f64(x), Number::from_f64(y)) {
            prop_assert_eq!(Some(nx.cmp(&ny)), x.partial_cmp(&y));
            prop_assert_eq!(nx.as_f64(), Some(x + 0.0));
        }
    }
}

#[test]
fn hostile_length_headers_are_errors() {
    // array32, map32, str32 and bin32 headers claiming 2^32-1 with 5 bytes of input.
    for (marker, ty) in [
        (0xdd, Type::list(Type::String)),
        (0xdf, Type::map(Type::String)),
        (0xdb, Type::String),
        (0xc6, Type::String),
    ] {
        let input = [marker, 0xff, 0xff, 0xff, 0xff];
        assert!(
            matches!(
                decode_msgpack(&input, &ty),
                Err(CodecError::Truncated { .. })
            ),
            "marker {marker:#x}"
        );
    }
    // A header claiming exactly what the input can hold still decodes.
    let mut input = vec![0xdd, 0, 0, 0, 3];
    input.extend_from_slice(&[0xc0; 3]);
    assert_eq!(
        decode_msgpack(&input, &Type::list(Type::String)).unwrap(),
        Value::List(vec![Value::Null; 3])
    );
}

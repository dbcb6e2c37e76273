//! The generated manifest the compile and KDL-reader benches share.

use std::fmt::Write;

/// A pipeline of `steps` steps in `steps / 10` chains of ten: every step reads a source file
/// and the previous step's output, declares a param and an env var, and every tenth step is
/// a 2×2 matrix step, so templates, interpolation and matrix expansion are all exercised.
pub fn manifest_text(steps: usize) -> String {
    let mut text = String::from(
        "project \"bench\"\nparams \"params.yaml\"\n\
         template \"py\" {\n    env PYTHONHASHSEED=\"0\"\n    resources cpus=1 memory=\"512MiB\"\n}\n\
         pipeline \"all\" default=#true {\n",
    );
    for i in 0..steps {
        let chain = i / 10;
        let _ = writeln!(text, "    step \"s{i}\" template=\"py\" {{");
        if i % 10 == 9 {
            let _ = writeln!(
                text,
                "        matrix {{\n            lr 0.1 0.01\n            depth 3 5\n        }}"
            );
            let _ = writeln!(
                text,
                "        cmd \"python3 src/train.py --lr {{{{lr}}}} --depth {{{{depth}}}} --seed {{{{params.train.seed}}}} out/{}.csv out/{i}-{{{{lr}}}}-{{{{depth}}}}.json\"",
                i - 1
            );
            let _ = writeln!(
                text,
                "        inputs \"src/train.py\" \"out/{}.csv\"",
                i - 1
            );
            let _ = writeln!(
                text,
                "        outputs \"out/{i}-{{{{lr}}}}-{{{{depth}}}}.json\""
            );
        } else {
            let _ = writeln!(
                text,
                "        cmd \"python3 src/step.py --n {i} --seed {{{{params.train.seed}}}}\""
            );
            if i % 10 == 0 {
                let _ = writeln!(text, "        inputs \"src/step.py\" \"data/{chain}.csv\"");
            } else {
                let _ = writeln!(text, "        inputs \"src/step.py\" \"out/{}.csv\"", i - 1);
            }
            let _ = writeln!(text, "        outputs \"out/{i}.csv\"");
        }
        let _ = writeln!(text, "        params \"train.seed\"\n    }}");
    }
    text.push_str("}\n");
    text
}

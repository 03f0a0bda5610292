//! Reading Open-NSFW's weights out of the ONNX export with tract-onnx's protobuf types.
//!
//! The export spells each conv as Transpose → Conv → Transpose → Add(bias) → Sub/Mul/Add
//! (batch-norm), with Casts in between and some constants shared through Identity nodes. We
//! follow each conv's output through that chain and fold it into `y = (s·W)·x + b`, then check
//! the layer list against ResNet-50-1by2 so that another model cannot be silently mis-wired.

use std::collections::HashMap;

use tract_onnx::pb;

use super::{FEATURES, STAGES};
use crate::vision::VisionError;

/// A conv with its bias and batch-norm folded in: y = W·x + b.
pub(super) struct ConvParams {
    pub(super) cout: usize,
    pub(super) cin: usize,
    pub(super) k: usize,
    pub(super) stride: usize,
    pub(super) pad: usize,
    pub(super) weight: Vec<f32>,
    pub(super) bias: Vec<f32>,
}

/// Everything `extract` pulls out of the ONNX file.
pub(super) struct Weights {
    pub(super) convs: Vec<ConvParams>,
    /// Classifier weight, row-major [1024, 2].
    pub(super) fc_w: Vec<f32>,
    pub(super) fc_b: [f32; 2],
}

/// Pull conv weights (with bias/BN folded) and the classifier out of the ONNX graph.
pub(super) fn extract(graph: &pb::GraphProto) -> Result<Weights, VisionError> {
    let bad = |m: String| VisionError::UnexpectedGraph(m);
    let mut inits: HashMap<&str, &pb::TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    // The exporter shares some BN constants through Identity nodes.
    for node in graph.node.iter().filter(|n| n.op_type == "Identity") {
        if let (Some(i), Some(o)) = (node.input.first(), node.output.first())
            && let Some(t) = inits.get(i.as_str()).copied()
        {
            inits.insert(o.as_str(), t);
        }
    }
    let mut consumers: HashMap<&str, Vec<&pb::NodeProto>> = HashMap::new();
    for node in &graph.node {
        for i in &node.input {
            consumers.entry(i.as_str()).or_default().push(node);
        }
    }

    let mut convs = Vec::new();
    for node in graph.node.iter().filter(|n| n.op_type == "Conv") {
        let w = node
            .input
            .get(1)
            .and_then(|n| inits.get(n.as_str()))
            .ok_or_else(|| bad(format!("conv {} has no weight initializer", node.name)))?;
        let dims = dims(w)?;
        let [cout, cin, kh, kw] = dims[..] else {
            return Err(bad(format!("conv {} weight has shape {dims:?}", node.name)));
        };
        let stride = attr_ints(node, "strides").first().copied().unwrap_or(1);
        let pad = attr_ints(node, "pads").first().copied().unwrap_or(0);
        if kh != kw || attr_ints(node, "group").iter().any(|&g| g != 1) {
            return Err(bad(format!(
                "conv {} is not a square dense conv",
                node.name
            )));
        }
        let mut weight = f32_data(w)?;
        let (mut scale, mut shift) = (vec![1f32; cout], vec![0f32; cout]);
        if let Some(b) = node.input.get(2).filter(|b| !b.is_empty()) {
            let b = inits
                .get(b.as_str())
                .ok_or_else(|| bad("conv bias not constant".into()))?;
            shift = f32_data(b)?;
            if shift.len() != cout {
                return Err(bad(format!(
                    "conv {} bias length {}",
                    node.name,
                    shift.len()
                )));
            }
        }
        let output = first_output(node)?;
        fold_affine(output, &inits, &consumers, &mut scale, &mut shift)?;
        for (o, s) in scale.iter().enumerate() {
            weight[o * cin * kh * kw..(o + 1) * cin * kh * kw]
                .iter_mut()
                .for_each(|w| *w *= s);
        }
        // The stem conv gets its 3-pixel zero padding from a separate Pad node (Caffe pad=3).
        let pad = if kh == 7 {
            3
        } else {
            usize::try_from(pad).unwrap_or(usize::MAX)
        };
        convs.push(ConvParams {
            cout,
            cin,
            k: kh,
            stride: usize::try_from(stride).unwrap_or(usize::MAX),
            pad,
            weight,
            bias: shift,
        });
    }
    check_architecture(&convs)?;

    let matmul = graph
        .node
        .iter()
        .find(|n| n.op_type == "MatMul")
        .ok_or_else(|| bad("no MatMul classifier".into()))?;
    let fc_w = matmul
        .input
        .get(1)
        .and_then(|n| inits.get(n.as_str()))
        .ok_or_else(|| bad("classifier weight is not constant".into()))?;
    if dims(fc_w)? != [FEATURES, 2] {
        return Err(bad(format!(
            "classifier weight has shape {:?}",
            dims(fc_w)?
        )));
    }
    let (mut scale, mut fc_b) = (vec![1f32; 2], vec![0f32; 2]);
    let output = first_output(matmul)?;
    fold_affine(output, &inits, &consumers, &mut scale, &mut fc_b)?;
    if scale != [1.0, 1.0] {
        return Err(bad("unexpected scaling after the classifier".into()));
    }
    Ok(Weights {
        convs,
        fc_w: f32_data(fc_w)?,
        fc_b: [fc_b[0], fc_b[1]],
    })
}

/// Follow `start` through Transpose/Cast and fold per-channel Add/Sub/Mul constants into
/// `y = scale·x + shift`, stopping at the first other op (Relu, residual Add, Softmax).
fn fold_affine(
    start: &str,
    inits: &HashMap<&str, &pb::TensorProto>,
    consumers: &HashMap<&str, Vec<&pb::NodeProto>>,
    scale: &mut [f32],
    shift: &mut [f32],
) -> Result<(), VisionError> {
    let mut cur = start;
    // Bounded so that a malformed (cyclic) graph cannot hang the loader.
    for _ in 0..64 {
        let Some([node]) = consumers.get(cur).map(Vec::as_slice) else {
            return Ok(());
        };
        let constant = node
            .input
            .iter()
            .find_map(|i| inits.get(i.as_str()).copied());
        match (node.op_type.as_str(), constant) {
            ("Transpose" | "Cast" | "Identity", _) => {}
            (op @ ("Add" | "Sub" | "Mul"), Some(c)) => {
                let c = f32_data(c)?;
                if c.len() != scale.len() || node.input.first().map(String::as_str) != Some(cur) {
                    return Err(VisionError::UnexpectedGraph(format!(
                        "{op} {} does not apply a per-channel constant",
                        node.name
                    )));
                }
                for ((s, t), c) in scale.iter_mut().zip(shift.iter_mut()).zip(c) {
                    match op {
                        "Add" => *t += c,
                        "Sub" => *t -= c,
                        _ => (*s, *t) = (*s * c, *t * c),
                    }
                }
            }
            _ => return Ok(()),
        }
        cur = first_output(node)?;
    }
    Err(VisionError::UnexpectedGraph(format!(
        "endless Transpose/Cast chain after {start}"
    )))
}

fn first_output(node: &pb::NodeProto) -> Result<&str, VisionError> {
    node.output
        .first()
        .map(String::as_str)
        .ok_or_else(|| VisionError::UnexpectedGraph(format!("node {} has no output", node.name)))
}

/// Refuse any graph whose conv list is not stem + bottlenecks (a, b, [projection], c) of
/// ResNet-50-1by2, so a different model cannot be silently mis-wired.
fn check_architecture(convs: &[ConvParams]) -> Result<(), VisionError> {
    // (cin, cout, kernel, stride, pad)
    let mut expect = vec![(3, 64, 7, 2, 3)];
    let mut cin = 64;
    for (stage, &(w, blocks)) in STAGES.iter().enumerate() {
        for block in 0..blocks {
            let s = if stage > 0 && block == 0 { 2 } else { 1 };
            expect.extend([(cin, w, 1, s, 0), (w, w, 3, 1, 1)]);
            if block == 0 {
                expect.push((cin, 4 * w, 1, s, 0));
            }
            expect.push((w, 4 * w, 1, 1, 0));
            cin = 4 * w;
        }
    }
    let got: Vec<_> = convs
        .iter()
        .map(|c| (c.cin, c.cout, c.k, c.stride, c.pad))
        .collect();
    if got != expect {
        return Err(VisionError::UnexpectedGraph(format!(
            "conv layers (cin, cout, k, stride, pad) {got:?} differ from ResNet-50-1by2"
        )));
    }
    Ok(())
}

fn dims(t: &pb::TensorProto) -> Result<Vec<usize>, VisionError> {
    t.dims
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| VisionError::UnexpectedGraph(format!("negative dim in {}", t.name)))
}

fn f32_data(t: &pb::TensorProto) -> Result<Vec<f32>, VisionError> {
    let bad = |what: &str| VisionError::UnexpectedGraph(format!("initializer {} {what}", t.name));
    if t.data_type != 1 {
        return Err(bad("is not f32"));
    }
    let n = dims(t)?
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad("is too large"))?;
    let data: Vec<f32> = if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    if data.len() != n {
        return Err(bad(
            "has the wrong number of values (external or truncated data)",
        ));
    }
    Ok(data)
}

fn attr_ints(node: &pb::NodeProto, name: &str) -> Vec<i64> {
    node.attribute
        .iter()
        .find(|a| a.name == name)
        .map(|a| {
            if a.ints.is_empty() {
                vec![a.i]
            } else {
                a.ints.clone()
            }
        })
        .unwrap_or_default()
}
